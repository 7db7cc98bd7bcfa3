"""Email over SMTP, with the server from the [smtp] settings."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from pingd.config import SmtpConfig
from pingd.notify.base import HTTP_TIMEOUT_SECONDS
from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import NotifyError

FIELDS = {"to": Field(required=True)}
_ADDRESS = re.compile(r"^[^@\s,]+@[^@\s,]+$")


def recipients(settings: dict[str, Any]) -> list[str]:
    """Split the comma-separated ``to`` setting into addresses."""
    return [part.strip() for part in str(settings["to"]).split(",") if part.strip()]


def validate(settings: dict[str, Any]) -> str | None:
    """Check that ``to`` holds one or more email addresses."""
    addresses = recipients(settings)
    if not addresses or not all(_ADDRESS.match(address) for address in addresses):
        return "settings.to must be one or more email addresses, separated by commas"
    return None


def send(settings: dict[str, Any], message: Message, *, smtp: SmtpConfig, **_: Any) -> None:
    """Send the alert by SMTP (STARTTLS, TLS or plain, with optional login)."""
    if not smtp.host:
        raise NotifyError("smtp.host is not configured")
    mail = EmailMessage()
    # A header cannot hold a line break, and a check's name may.
    mail["Subject"] = " ".join(message.title.split())
    mail["From"] = smtp.from_
    mail["To"] = ", ".join(recipients(settings))
    mail.set_content(message.text)
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=HTTP_TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=HTTP_TIMEOUT_SECONDS)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(mail)
    except smtplib.SMTPAuthenticationError:
        raise NotifyError("the SMTP server refused the login") from None
    except smtplib.SMTPResponseException as ex:
        raise NotifyError(f"the SMTP server answered {ex.smtp_code}") from None
    except smtplib.SMTPException as ex:
        raise NotifyError(f"SMTP error: {type(ex).__name__}") from None
    except (TimeoutError, OSError) as ex:
        raise NotifyError(f"could not reach the SMTP server: {type(ex).__name__}") from None
