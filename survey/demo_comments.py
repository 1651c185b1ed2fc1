"""Comments for the demo surveys: our own writing, composed so hundreds of them read like real answers.

Each kind of survey has a few recurring problems, each said many ways (short,
long, misspelt, with a date or an amount, sometimes after a word of praise),
and praise and neutral remarks in between. A fixed seed makes every demo the
same. Nothing here comes from real customers' texts.
"""

from __future__ import annotations

import random

# Problems per survey kind: phrasings of one complaint, with {n} for a number and {day} for a weekday.
PROBLEMS = {
    "nps": {
        "connection wait": [
            "still waiting to be connected after {n} weeks", "took {n} weeks to get the broadband live",
            "been waiting {n} weeks for my line to go live", "activation date got pushed back again",
            "over a month and still not connected", "{n} weeks with no internet after signing up",
            "still waiting for my connection, {n} weeks now", "the switch over has taken {n} weeks so far",
        ],
        "engineer no-show": [
            "the engineer never turned up", "engineer didn't turn up on {day}, took the day off for nothing",
            "waited in all day and no engineer came", "second engineer appointment missed",
            "engineer did not show up and nobody rang", "booked an engineer for {day}, nobody turned up",
            "the installer never came, twice", "engineer cancelled the morning of the visit",
        ],
        "no call back": [
            "nobody called me back", "promised a call back on {day} and nobody called",
            "no one ever rang me back", "was told someone would call me back, still nothing",
            "asked for a callback three times, nobody has called", "never got the call back they promised",
            "said they'd ring back within 24 hours, nobody did",
        ],
        "hold times": [
            "on hold for {n} minutes every time i call", "waited on hold for over an hour",
            "{n} minutes on hold then cut off", "the phone queue is ridiculous, {n} mins on hold",
            "always on hold for ages before anyone answers", "hung on the line for {n} minutes",
        ],
        "price rise": [
            "price went up again with no warning", "bill went up by £{n} without a letter",
            "charged more than the price i signed up for", "the monthly price keeps creeping up",
            "new customers get a better price than loyal ones", "they put the price up {n}% mid contract",
        ],
        "slow evenings": [
            "speed drops every evening", "internet is painfully slow after 7pm",
            "connection keeps dropping out at night", "wifi cuts out several times a day",
            "speeds nowhere near what was promised", "broadband slows to a crawl in the evenings",
        ],
    },
    "csat": {
        "repeat myself": [
            "had to explain my problem {n} times to {n} different people", "kept being passed from one team to another",
            "every agent asked for the same details again", "transferred {n} times before anyone could help",
            "nobody read the notes so i had to start over each time",
        ],
        "refund wait": [
            "my refund still hasn't arrived after {n} weeks", "still waiting for the refund i was promised",
            "refund was approved {n} weeks ago and nothing yet", "no sign of my refund",
            "they said the refund would take 5 days, it's been {n} weeks",
        ],
        "chat cut off": [
            "the chat just closes on me", "got cut off mid chat and had to queue again",
            "chat disconnected twice while i was typing", "live chat kept dropping the conversation",
            "the chat window timed out and lost everything i wrote",
        ],
        "dismissive agent": [
            "the agent was rude and dismissive", "felt like i was a nuisance for asking",
            "agent was short with me and didn't listen", "nobody seemed to care about my problem",
            "the person i spoke to was condescending",
        ],
        "wrong item": [
            "wrong item sent twice", "the replacement was the wrong size again",
            "they sent the wrong part", "parcel arrived with the wrong item inside",
        ],
    },
    "ces": {
        "portal errors": [
            "the self-service portal kept throwing errors", "the website crashed at the last step",
            "portal error every time i pressed submit", "the online form wouldn't save my changes",
            "kept getting an error page when uploading documents",
        ],
        "asked twice": [
            "had to enter my account number twice", "the form asked for the same details {n} times",
            "had to send the same documents twice", "asked to prove my identity again and again",
        ],
        "no one knows": [
            "nobody could tell me who was handling my request", "no one knew what was happening with my change",
            "every person gave me a different answer", "nobody could say when it would be done",
        ],
        "address change": [
            "changing my address took {n} calls", "had to call, email and visit a shop to change my address",
            "my new address still isn't on the account", "address change took {n} weeks",
        ],
    },
}

PRAISE = {
    "nps": ["fast reliable broadband", "the engineer was brilliant and tidy", "great value for the speed",
            "setup was easy", "support sorted a fault on a sunday evening", "kept my number and no downtime",
            "the app is handy for checking usage", "really happy with the wifi", "best provider we've had"],
    "csat": ["the agent was patient and fixed it in one call", "quick answer to my question",
             "friendly and sorted it first time", "went above and beyond", "kept me updated every step",
             "really appreciated the apology", "helpful and efficient"],
    "ces": ["reset my password in under a minute", "one call and it was done", "clear steps and a confirmation email",
            "easy once i found the right page", "the chat agent knew exactly what to do", "took two minutes online"],
}
NEUTRAL = ["it's fine", "does what it says", "no complaints so far", "average", "ok i suppose",
           "nothing special", "too early to say", "fine overall"]
OPENERS = ["", "", "", "honestly ", "to be fair ", "Really ", "tbh ", "well ", "", "So "]
CLOSERS = ["", "", "", ".", "!!", ". not impressed", ". very frustrating", ". sort it out", " :(", ". shocking",
           ". would not recommend", "..."]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
# Answers per kind: (share with a complaint, share of those also praising something first).
MIX = {"nps": (0.45, 0.3), "csat": (0.4, 0.25), "ces": (0.4, 0.2)}


def demo_comments(kind: str, count: int, seed: int = 11) -> list[tuple[str, str]]:
    """``count`` (sentiment, comment) pairs for a survey of ``kind``: "negative", "mixed", "positive" or "neutral"."""
    rng = random.Random(f"{kind}-{seed}")
    problems = PROBLEMS[kind]
    # Some problems are more common than others, as in life.
    names = sorted(problems)
    weights = [len(names) - i for i in range(len(names))]
    complaint_share, mixed_share = MIX[kind]
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < complaint_share:
            problem = rng.choices(names, weights)[0]
            text = _fill(rng.choice(problems[problem]), rng)
            if rng.random() < 0.25:  # a second complaint in the same answer
                other = rng.choice([n for n in names if n != problem])
                text += f". {_fill(rng.choice(problems[other]), rng)}"
            if rng.random() < mixed_share:
                out.append(("mixed", _sentence(f"{rng.choice(PRAISE[kind])} but {text}", rng)))
            else:
                out.append(("negative", _sentence(rng.choice(OPENERS) + text + rng.choice(CLOSERS), rng)))
        elif roll < complaint_share + 0.12:
            out.append(("neutral", _sentence(rng.choice(NEUTRAL), rng)))
        else:
            out.append(("positive", _sentence(rng.choice(OPENERS) + rng.choice(PRAISE[kind]), rng)))
    return out


def _fill(text: str, rng: random.Random) -> str:
    return text.replace("{n}", str(rng.choice([2, 3, 4, 5, 6, 8, 10, 20, 40]))).replace("{day}", rng.choice(DAYS))


def _sentence(text: str, rng: random.Random) -> str:
    text = " ".join(text.split())
    if rng.random() < 0.7:  # most people start with a capital; some don't bother
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.08:  # and a few slip
        text = text.replace("the ", "teh ", 1)
    return text
