"""Email over SMTP, with the server from the [smtp] settings."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.policy import Policy
from typing import Any

from pingd.config import SmtpConfig
from pingd.notify.base import HTTP_TIMEOUT_SECONDS
from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import NotifyError
from pingd.textsafe import one_line

FIELDS = {"to": Field(required=True)}
_ADDRESS = re.compile(r"^[^@\s,\x00-\x1f\x7f]+@[^@\s,\x00-\x1f\x7f]+$")


@dataclass(frozen=True, slots=True)
class EncodedHeader:
    """A header sent as RFC 2047 encoded words, whatever its text looks like.

    The email package decodes encoded words in any header value it is given,
    so a check named ``=?utf-8?q?x=0D=0ABcc:_evil@example.org?=`` would become
    a Subject holding CR LF, written out raw: an injected Bcc header (or, on
    newer Pythons, a HeaderWriteError on every attempt). An object with a
    ``name`` and a ``fold`` method is stored and written as it is (see
    EmailPolicy.header_store_parse), and Header encodes every word, so the
    reader's mail program shows exactly ``text``.
    """

    name: str
    text: str

    def fold(self, *, policy: Policy) -> str:
        encoded = Header(self.text, "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"

    def __str__(self) -> str:
        return self.text


def recipients(settings: dict[str, Any]) -> list[str]:
    """Split the comma-separated ``to`` setting into addresses."""
    return [part.strip() for part in str(settings["to"]).split(",") if part.strip()]


def validate(settings: dict[str, Any]) -> str | None:
    """Check that ``to`` holds one or more email addresses."""
    addresses = recipients(settings)
    if not addresses or not all(_ADDRESS.match(address) for address in addresses):
        return "settings.to must be one or more email addresses, separated by commas"
    return None


def subject_header(title: str) -> str | EncodedHeader:
    """Return the Subject for a title: one line, and encoded if it looks like encoded words."""
    # A header cannot hold a line break, and a check's name may.
    subject = one_line(title)
    return EncodedHeader("Subject", subject) if "=?" in subject else subject


def send(settings: dict[str, Any], message: Message, *, smtp: SmtpConfig, **_: Any) -> None:
    """Send the alert by SMTP (STARTTLS, TLS or plain, with optional login)."""
    if not smtp.host:
        raise NotifyError("smtp.host is not configured")
    mail = EmailMessage()
    mail["Subject"] = subject_header(message.title)
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
