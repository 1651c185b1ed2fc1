"""Import every models module so the metadata holds the whole schema.

Alembic's env and ``create_all`` import this one module instead of knowing
each feature package.
"""

from survey import models  # noqa: F401
from survey.invites import models as invites_models  # noqa: F401
from survey import ratelimit  # noqa: F401
from survey.widget import models as widget_models  # noqa: F401
from survey.codeframe import models as codeframe_models  # noqa: F401
from survey.followup import models as followup_models  # noqa: F401
from survey.labelling import models as labelling_models  # noqa: F401
from survey.alerts import models as alerts_models  # noqa: F401
from survey.webhooks import models as webhooks_models  # noqa: F401
