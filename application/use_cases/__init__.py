"""Use cases: one verb-phrase class per module, awaited with the caller's command."""

from thedata.application.use_cases.add_member import AddMember, NewMember
from thedata.application.use_cases.authenticate import Authenticate
from thedata.application.use_cases.change_member_role import ChangeMemberRole
from thedata.application.use_cases.check_readiness import CheckReadiness
from thedata.application.use_cases.create_api_key import CreateApiKey, CreatedApiKey, NewApiKey
from thedata.application.use_cases.create_organization import (
    CreateOrganization,
    NewOrganization,
)
from thedata.application.use_cases.delete_organization import DeleteOrganization
from thedata.application.use_cases.get_current_user import GetCurrentUser, UserProfile
from thedata.application.use_cases.get_organization import GetOrganization
from thedata.application.use_cases.issue_access_token import IssueAccessToken, IssuedToken
from thedata.application.use_cases.list_api_keys import ListApiKeys
from thedata.application.use_cases.list_members import ListMembers
from thedata.application.use_cases.list_organizations import ListOrganizations
from thedata.application.use_cases.register_user import RegisterUser, Registration
from thedata.application.use_cases.remove_member import RemoveMember
from thedata.application.use_cases.revoke_access_token import RevokeAccessToken
from thedata.application.use_cases.revoke_api_key import RevokeApiKey
from thedata.application.use_cases.rotate_secret_key import RotateSecretKey, RotationReport
from thedata.application.use_cases.update_current_user import UpdateCurrentUser, UserChanges
from thedata.application.use_cases.update_organization import (
    OrganizationChanges,
    UpdateOrganization,
)

__all__ = [
    "AddMember",
    "Authenticate",
    "ChangeMemberRole",
    "CheckReadiness",
    "CreateApiKey",
    "CreateOrganization",
    "CreatedApiKey",
    "DeleteOrganization",
    "GetCurrentUser",
    "GetOrganization",
    "IssueAccessToken",
    "IssuedToken",
    "ListApiKeys",
    "ListMembers",
    "ListOrganizations",
    "NewApiKey",
    "NewMember",
    "NewOrganization",
    "OrganizationChanges",
    "RegisterUser",
    "Registration",
    "RemoveMember",
    "RevokeAccessToken",
    "RevokeApiKey",
    "RotateSecretKey",
    "RotationReport",
    "UpdateCurrentUser",
    "UpdateOrganization",
    "UserChanges",
    "UserProfile",
]
