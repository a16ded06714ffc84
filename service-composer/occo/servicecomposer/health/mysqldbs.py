"""``mysqldbs``: each listed database accepts a login (an optional MySQL driver).

``mysqldbs: [{name: wp, user: wp, pass: '{{ variables.db_pass }}'}]`` connects to the
node's address (port 3306) as ``user`` to database ``name``. PyMySQL is an optional
extra (``occo-servicecomposer[mysql]``): without it, using this check is a clear error
and nothing else is affected. The password is registered as a secret when planned and
never appears in results.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from occo.util import register_secret, scrub

from ..errors import HealthCheckUnavailableError
from .base import HealthCheck, ProbeFailed

__all__ = ["MysqlDbsCheck", "MYSQL_PORT"]

MYSQL_PORT = 3306


def _driver() -> Any:
    try:
        return importlib.import_module("pymysql")
    except ImportError:
        return None


class MysqlDbsCheck(HealthCheck):
    """``mysqldbs``: log in to each database with its user and password."""

    key = "mysqldbs"
    port = MYSQL_PORT

    def ensure_available(self) -> None:
        if _driver() is None:
            raise HealthCheckUnavailableError(
                "the mysqldbs health check needs a MySQL driver, and PyMySQL is not "
                "installed: install occo-servicecomposer[mysql] (or pymysql), or remove "
                "mysqldbs from the health_check")

    def targets(self, value: Any, *, address: str) -> list[Any]:
        items = value if isinstance(value, (list, tuple)) else [value]
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ValueError(f"item {i}: must be a mapping {{name, user, pass}}")
            missing = [k for k in ("name", "user", "pass") if item.get(k) in (None, "")]
            if missing:
                raise ValueError(f"item {i}: missing {', '.join(missing)}")
            unknown = sorted(set(item) - {"name", "user", "pass"})
            if unknown:
                raise ValueError(f"item {i}: unknown key {unknown[0]!r}; valid keys: "
                                 "name, user, pass")
            password = str(item["pass"])
            register_secret(password)
            out.append({"name": str(item["name"]), "user": str(item["user"]),
                        "pass": password})
        return out

    def describe(self, target: Any) -> str:
        return f"{target['user']}@{target['name']}"

    def _login(self, address: str, target: Mapping[str, Any], timeout: float) -> str:
        pymysql = _driver()
        if pymysql is None:
            raise HealthCheckUnavailableError("PyMySQL is not installed")
        seconds = max(1, int(round(timeout)))
        try:
            connection = pymysql.connect(host=address, port=self.port, user=target["user"],
                                         password=target["pass"], database=target["name"],
                                         connect_timeout=seconds, read_timeout=seconds,
                                         write_timeout=seconds)
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args else "?"
            text = exc.args[1] if len(exc.args) > 1 else str(exc)
            raise ProbeFailed(scrub(f"MySQL error {code}: {text}")) from exc
        try:
            connection.ping(reconnect=False)
        finally:
            connection.close()
        return "login accepted"

    async def probe(self, address: str, target: Any, timeout: float, state: Any) -> str:
        return await self.run_blocking(self._login, address, target, timeout)
