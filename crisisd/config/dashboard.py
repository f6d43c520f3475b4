"""The dashboard's settings: who the province staff are, how sign-in codes and sessions
last, and how the CAP feed names its sender."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from crisisd.config.base import Model


class Dashboard(Model):
    """The working group's web dashboard and CAP feed, served on the API's port."""

    enabled: bool = Field(True, description="Serve the dashboard at /dashboard/ and CAP at /cap/.")
    province: list[str] = Field(
        default_factory=list,
        description="Directory contact ids of province staff (role `province`: every factory; "
        "may take over and trigger drills). Officers come from the playbooks.",
    )
    viewers: list[str] = Field(
        default_factory=list,
        description="Directory contact ids who may sign in to read every factory (role "
        "`viewer`: no actions).",
    )
    code_minutes: Annotated[int, Field(ge=1, le=60)] = Field(
        10, description="How long a sign-in code is good for, in minutes."
    )
    session_hours: Annotated[int, Field(ge=1, le=720)] = Field(
        12, description="How long a dashboard session lasts, in hours."
    )
    codes_per_hour: Annotated[int, Field(ge=1, le=100)] = Field(
        5, description="Sign-in codes one person may ask for in an hour."
    )
    secret: Annotated[SecretStr, Field(min_length=16)] | None = Field(
        None,
        description="Key that signs session cookies, as a secret reference. Unset: generated "
        "once and kept in the store.",
    )
    cap_sender: str | None = Field(
        None,
        description="The CAP `sender` of every alert (globally unique, e.g. "
        "`crisisd@pr.example.ir`). Unset: crisisd@ + the host of api.public_url.",
    )
