"""chainer.ark: the provider seam (httpx client for the Ark content-generation task API)."""
from .client import (DEFAULT_BASE_URL, ArkClient, ArkTaskFormatError, DownloadTooLarge,
                     UnsafeURLError, check_base_url)
from .errors import (ArkAuthenticationError, ArkBadRequestError, ArkConnectionError, ArkError,
                     ArkHTTPError, ArkNotFoundError, ArkPermissionDeniedError, ArkRateLimitError,
                     ArkResponseError, ArkServerError, ArkTimeoutError, ArkURLExpiredError,
                     DownloadError, redact)
from .types import IN_FLIGHT, TERMINAL, Task

__all__ = ["ArkClient", "DEFAULT_BASE_URL", "Task", "TERMINAL", "IN_FLIGHT", "ArkError",
           "ArkHTTPError", "ArkBadRequestError", "ArkAuthenticationError",
           "ArkPermissionDeniedError", "ArkNotFoundError", "ArkRateLimitError", "ArkServerError",
           "ArkURLExpiredError", "ArkConnectionError", "ArkTimeoutError", "ArkResponseError",
           "DownloadError", "redact", "ArkTaskFormatError", "DownloadTooLarge",
           "UnsafeURLError", "check_base_url"]
