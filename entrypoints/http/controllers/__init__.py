"""One controller per resource of the ``/v1`` API."""

from thedata.entrypoints.http.controllers.api_keys import ApiKeyController
from thedata.entrypoints.http.controllers.auth import AuthController
from thedata.entrypoints.http.controllers.data_sources import DataSourceController
from thedata.entrypoints.http.controllers.members import MemberController
from thedata.entrypoints.http.controllers.organizations import OrganizationController
from thedata.entrypoints.http.controllers.pipelines import PipelineController
from thedata.entrypoints.http.controllers.runs import RunController
from thedata.entrypoints.http.controllers.users import UserController

CONTROLLERS = [
    AuthController,
    UserController,
    OrganizationController,
    MemberController,
    ApiKeyController,
    DataSourceController,
    PipelineController,
    RunController,
]

__all__ = ["CONTROLLERS"]
