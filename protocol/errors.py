"""Exceptions, named as ICF names them, so IDM's error mapping works unchanged.

On the wire an error is `{exceptionClass, message, cause}` where `exceptionClass` is the Java
class name IDM maps to an HTTP status (docs/openicf.md §1.8, §3.4). Each Python class here carries
that name in `icf_class`. The tree, grouped by what the caller should do::

    ConnectorException                       ConnectorException (500)
    │
    ├── fix the request, do not retry
    │   ├── InvalidAttributeValueException   400  a value or attribute name is wrong
    │   ├── AlreadyExistsException           412  the object exists (HubSpot 409)
    │   ├── PreconditionFailedException      412  the revision does not match
    │   ├── PreconditionRequiredException    428  a revision is needed
    │   ├── ConfigurationException           500  the connector's configuration is wrong
    │   ├── IllegalArgumentException         500  an argument is wrong (java.lang)
    │   ├── UnsupportedOperationException    404  the connector cannot do this (java.lang)
    │   └── ProtocolError                         the frame broke the protocol (see below)
    │
    ├── fix the credentials or the permissions
    │   └── ConnectorSecurityException       500
    │       ├── PermissionDeniedException    403
    │       └── InvalidCredentialException   401
    │           ├── InvalidPasswordException 401
    │           │   └── PasswordExpiredException 403
    │           └── UnknownUidException      404  no object with this Uid
    │
    └── try again later
        ├── RetryableException               503
        ├── OperationTimeoutException        503  operationTimeout passed; the work was stopped
        └── ConnectorIOException             503
            ├── ConnectionFailedException    503  the resource could not be reached
            └── ConnectionBrokenException    503  the connection broke mid-operation

`UnknownUidException` sits under `InvalidCredentialException` because ICF puts it there (IDM
checks for it first); catch it before its parent.

`ProtocolError` is ours: the peer sent a frame we cannot accept. It answers that frame and no
other; the connection goes on. Its wire name is `java.lang.IllegalArgumentException`.

Messages are written for the operator and never carry secrets or response bodies.
"""

from __future__ import annotations

from typing import ClassVar

_ICF = "org.identityconnectors.framework.common.exceptions."


class ConnectorException(Exception):
    """The root: something failed in a connector or in the server on its behalf."""

    icf_class: ClassVar[str] = _ICF + "ConnectorException"

    def __init__(self, message: str = "", *, cause: ConnectorException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.remote_class: str | None = None
        """The class name a peer sent, when it named a class this module does not know."""

    @property
    def wire_class(self) -> str:
        """The class name this exception travels under."""
        return self.remote_class or self.icf_class

    def __str__(self) -> str:
        return self.message


class InvalidAttributeValueException(ConnectorException):
    icf_class = _ICF + "InvalidAttributeValueException"


class AlreadyExistsException(ConnectorException):
    icf_class = _ICF + "AlreadyExistsException"


class PreconditionFailedException(ConnectorException):
    icf_class = _ICF + "PreconditionFailedException"


class PreconditionRequiredException(ConnectorException):
    icf_class = _ICF + "PreconditionRequiredException"


class ConfigurationException(ConnectorException):
    icf_class = _ICF + "ConfigurationException"


class IllegalArgumentException(ConnectorException):
    icf_class = "java.lang.IllegalArgumentException"


class UnsupportedOperationException(ConnectorException):
    icf_class = "java.lang.UnsupportedOperationException"


class ProtocolError(IllegalArgumentException):
    """A frame the protocol does not allow: not JSON, an unknown field, out of order, too big.

    `field` names the offending part (`request.operation.search.objectClass`) when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConnectorSecurityException(ConnectorException):
    icf_class = _ICF + "ConnectorSecurityException"


class PermissionDeniedException(ConnectorSecurityException):
    icf_class = _ICF + "PermissionDeniedException"


class InvalidCredentialException(ConnectorSecurityException):
    icf_class = _ICF + "InvalidCredentialException"


class InvalidPasswordException(InvalidCredentialException):
    icf_class = _ICF + "InvalidPasswordException"


class PasswordExpiredException(InvalidPasswordException):
    icf_class = _ICF + "PasswordExpiredException"


class UnknownUidException(InvalidCredentialException):
    icf_class = _ICF + "UnknownUidException"


class RetryableException(ConnectorException):
    icf_class = _ICF + "RetryableException"


class OperationTimeoutException(ConnectorException):
    icf_class = _ICF + "OperationTimeoutException"


class ConnectorIOException(ConnectorException):
    icf_class = _ICF + "ConnectorIOException"


class ConnectionFailedException(ConnectorIOException):
    icf_class = _ICF + "ConnectionFailedException"


class ConnectionBrokenException(ConnectorIOException):
    icf_class = _ICF + "ConnectionBrokenException"


def _all_classes() -> dict[str, type[ConnectorException]]:
    found: dict[str, type[ConnectorException]] = {}
    pending: list[type[ConnectorException]] = [ConnectorException]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.icf_class, cls)
        pending.extend(cls.__subclasses__())
    return found


BY_WIRE_CLASS: dict[str, type[ConnectorException]] = _all_classes()
"""Wire class name -> Python class. `ProtocolError` shares its name with its parent, which wins."""
BY_WIRE_CLASS[IllegalArgumentException.icf_class] = IllegalArgumentException
