"""What every config section shares: the model base and the id pattern."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

NAME_ID = r"^[a-z][a-z0-9_-]*$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
