"""Pydantic request and response models."""

from pydantic import BaseModel, Field

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class UserBase(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)


class UserCreate(UserBase):
    password: str = Field(min_length=8)


class User(UserBase):
    id: int
    active: bool


class ItemCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(ge=0)
    owner_id: int | None = None


class ItemUpdate(BaseModel):
    """Every field is optional: only the fields sent (and not null) are changed."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    price: float | None = Field(default=None, ge=0)
    owner_id: int | None = None


class Item(ItemCreate):
    id: int


class LoginRequest(BaseModel):
    username: str
    password: str


class FileInfo(BaseModel):
    path: str
    size: int
