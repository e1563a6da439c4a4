"""Shell commands: `python -m {{ cookiecutter.package_name }}.commands create-user USERNAME [--admin]`."""

import asyncio

import click
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.core.config import get_settings
from {{ cookiecutter.package_name }}.core.db import standalone_session
from {{ cookiecutter.package_name }}.models.user import User
from {{ cookiecutter.package_name }}.schemas.user import UserCreate
from {{ cookiecutter.package_name }}.services import users


@click.group()
def cli() -> None:
    """Manage the service from the shell."""


@cli.command("create-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.password_option(help="Asked for twice, hidden, when not given here.")
def create_user(username: str, admin: bool, password: str) -> None:
    """Create a user. Without a terminal, pipe the password in twice: "pw\\npw\\n"."""
    try:
        data = UserCreate(username=username, password=password, is_admin=admin)
    except ValidationError as exc:
        raise click.ClickException(describe(exc)) from None
    try:
        user = asyncio.run(insert_user(get_settings().database_url, data))
    except users.UsernameTaken as exc:
        raise click.ClickException(str(exc)) from None
    role = "administrator" if user.is_admin else "user"
    click.echo(f"Created {role} {user.username!r} with id {user.id}")


async def insert_user(database_url: str, data: UserCreate) -> User:
    async with standalone_session(database_url) as session:
        return await users.create(session, data)


def describe(error: ValidationError) -> str:
    """Every problem with the input, on one line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )


if __name__ == "__main__":
    cli()
