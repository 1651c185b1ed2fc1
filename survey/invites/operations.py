"""The writes of the invitation side, by job, under one name for callers.

Each lives in its own module: the contact list (``addressbook``), queueing
campaigns and reminders (``campaigns``), answers through an e-mail's links
(``answers``), hard bounces (``bounce_handling``) and the campaign counts
(``reporting``). Every function validates what it is given, commits in one
place and raises ``OperationError`` with a message for a person.
"""

from survey.invites.addressbook import (  # noqa: F401
    ContactImport, Forgotten, add_contact, clear_bounce, find_contact, forget_contact, import_contacts,
    unsubscribe_contact, update_contact,
)
from survey.invites.answers import (  # noqa: F401
    answer_invitation, find_invitation, record_click, unsubscribe_invitation,
)
from survey.invites.bounce_handling import BounceOutcome, record_bounce  # noqa: F401
from survey.invites.campaigns import (  # noqa: F401
    CampaignResult, Links, ReminderResult, create_campaign, describe_segment, parse_segment, queue_campaign,
    queue_reminders, segment_query, send_campaign,
)
from survey.invites.reporting import campaign_stats  # noqa: F401
