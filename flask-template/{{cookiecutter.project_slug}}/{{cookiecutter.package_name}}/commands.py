"""Shell commands on the app's `flask` CLI:

    flask --app {{ cookiecutter.package_name }}.main create-user USERNAME [--admin]

The password is asked for, hidden, and asked again to confirm it; a script can pipe both
lines in.
"""

import click
from flask import Flask
from flask.cli import with_appcontext
from marshmallow import ValidationError

from .schemas.user import UserCreateSchema
from .services import users


def one_line(error: ValidationError) -> str:
    """marshmallow's messages as `field: message; field: message`."""
    messages = error.messages_dict
    return "; ".join(f"{field}: {' '.join(map(str, text))}" for field, text in messages.items())


@click.command("create-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
@with_appcontext
def create_user_command(username: str, admin: bool) -> None:
    """Create a user who can sign in at /api/v1/auth/token."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    fields = {"username": username, "password": password, "is_admin": admin}
    try:
        data = UserCreateSchema().load(fields)
    except ValidationError as error:
        raise click.ClickException(f"Invalid user: {one_line(error)}") from error
    try:
        user = users.create_user(**data)
    except users.UsernameTakenError as error:
        raise click.ClickException(f"Username {username} is taken") from error
    click.echo(f"Created {'admin' if user.is_admin else 'user'} {user.username} (id {user.id})")


def init_commands(app: Flask) -> None:
    app.cli.add_command(create_user_command)
