"""Settings: the YAML file, then the environment, validated into one value. Read once, passed down.

Nothing here reads os.environ by itself: the environment is an argument.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from bot.channels import CHANNELS
from bot.channels.base import Section as _Section
from bot.errors import ConfigError

DEFAULT_CONFIG = "config/newsalert.yaml"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, longest: timedelta = timedelta(days=365)) -> Any:
    """ "90s", "5m", "2h", "1d", or a number of seconds; at most `longest`."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like 90s, 5m, 2h or 1d")
        seconds = _seconds(match.group(1)) * _UNITS[match.group(2)]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = _seconds(value)
    else:
        return value
    if not seconds <= longest.total_seconds():  # NaN too
        raise ValueError(f"longer than the most allowed, {format_duration(longest)}")
    return timedelta(seconds=seconds)


def _seconds(number: str | float) -> float:
    """As a float; an integer too big for one is infinite (longer than any bound), as float() reads a
    string of too many digits."""
    try:
        return float(number)
    except OverflowError:
        return math.inf


Duration = Annotated[timedelta, BeforeValidator(parse_duration), Field(gt=timedelta(0))]
Lease = Annotated[
    timedelta, BeforeValidator(partial(parse_duration, longest=timedelta(days=1))), Field(gt=timedelta(0))
]


class LogSettings(_Section):
    format: Literal["text", "json"] = "text"  # json: one JSON object per line, for log collectors


class HttpSettings(_Section):
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port (tests)
    # where WebSub hubs reach http.port from outside (https://bot.example.org); set: feeds that name a hub
    # are pushed to /websub/... there instead of polled often (docs/fetching.md#websub-push)
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _a_base_url(cls, value: str | None) -> str | None:
        parts = urlsplit(value or "")
        if value is not None and (parts.scheme not in ("http", "https") or not parts.hostname or parts.query):
            raise ValueError("give the address hubs reach this bot at, like https://bot.example.org")
        return value.rstrip("/") if value else value


class PollingSettings(_Section):
    """Bounds on server hints (max-age, Retry-After, <ttl>), on adapting to a feed's pace and on feeds
    added from chats.

    The config file's own intervals are honoured as written, even when shorter."""

    min_interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=24)
    # A feed that posts rarely is polled less often: 4 looks in its average gap between entries of the
    # last week, never more often than poll_interval. Feeds given their own interval keep it.
    adaptive: bool = False
    # A feed whose parse takes longer fails as too slow (its worker process is stopped), and is backed off.
    parse_deadline: Duration = timedelta(seconds=30)


class LlmSettings(_Section):
    """An OpenAI-compatible endpoint, for what each model named here does: `model` writes the alerts'
    summaries (chat completions), `embeddings_model` tells stories apart (embeddings). Off unless
    base_url and one of them are set."""

    base_url: str | None = None  # e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama)
    model: str | None = None  # e.g. gpt-4o-mini; unset: extractive summaries
    api_key: SecretStr | None = None
    timeout: Duration = timedelta(seconds=20)
    monthly_tokens: int = Field(1_000_000, ge=0)  # past this, summaries are extractive until next month
    # The same endpoint's /embeddings, as a similarity of two articles (bot/summary/embeddings.py) that the
    # story decision uses besides their words (bot/stories.py); unset: off.
    embeddings_model: str | None = None
    # The cosine from which two articles' embeddings make them one story: all-MiniLM-L6-v2's, measured on
    # the labelled events by bench/embeddings_eval.py; another model's cosines spread otherwise.
    embeddings_bar: float = Field(0.77, gt=0, le=1)

    @model_validator(mode="after")
    def _models_need_the_endpoint(self) -> LlmSettings:
        if self.embeddings_model and not self.base_url:
            raise ValueError("embeddings_model needs base_url: the endpoint that serves it")
        if self.base_url and not (self.model or self.embeddings_model):
            raise ValueError(
                "base_url is set but no model to ask there: set model (summaries, e.g. gpt-4o-mini) "
                "or embeddings_model (stories), or both"
            )
        return self


class SummarySettings(_Section):
    max_words: int = Field(60, ge=10, le=500)
    fetch_pages: Literal["never", "auto", "always"] = "auto"  # read the item's page when it is thin
    llm: LlmSettings = LlmSettings()


class StoriesSettings(_Section):
    """How articles from many outlets become one story (one alert): see bot/stories.py."""

    # Two articles are one story only when published within this of each other; longer ago is not looked at.
    window: Duration = timedelta(hours=48)


def parse_kept_for(value: Any) -> Any:
    """A retention: a duration of at most ten years, or `off` (YAML's off, false or null too): forever."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    try:
        return parse_duration(value, longest=timedelta(days=3650))
    except ValueError as error:
        raise ValueError(f"{error}, or off (kept forever)") from None


KeptFor = Annotated[Duration | None, BeforeValidator(parse_kept_for)]


class RetentionSettings(_Section):
    """How long rows are kept (bot/store/retention.py); `off` keeps them forever."""

    # Stored articles, by when they were fetched, and their story rows once the story has none left.
    # What each feed has had (its entries' identities) is kept until an entry has left its feed for
    # this long, so an entry still in a feed never alerts again.
    articles: KeptFor = timedelta(days=90)
    # Alerts and notices that are done with (sent, stopped, muted, gone), by when they were last sent or
    # made, once their story has had no new article for stories.window. Waiting ones are never deleted.
    outbox: KeptFor = timedelta(days=30)


class DeliverySettings(_Section):
    # A claimed alert of a process that died is sent by another (or after a restart) this long after;
    # keep it above the chat apps' send timeouts (30 s), or a slow send may be repeated.
    lease: Lease = timedelta(minutes=2)
    # Breaking news: past this many alerts from one rule to one chat within burst_window, the rule's
    # next stories join one message, edited in place, until the rule is quiet for a burst_window.
    burst_stories: int = Field(5, ge=1)
    burst_window: Duration = timedelta(minutes=10)


class LimitsSettings(_Section):
    """How many rules one chat may add; the config file's rules are the operator's and not counted."""

    rules_per_chat: int = Field(200, ge=1)
    regex_rules_per_chat: int = Field(20, ge=0)  # rules with a /regex/, the costliest to match; 0: none


class FeedSettings(_Section):
    url: str
    name: str | None = None
    interval: Duration | None = None  # default: poll_interval
    backfill: int | Literal["all"] = Field(0, description="entries that may alert on first poll")

    @field_validator("backfill")
    @classmethod
    def _backfill_not_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("backfill must be 0 or more, or 'all'")
        return value


# every registered channel's name (bot/channels/__init__.py), as a subscription's `channel:` takes it
ChannelName = Literal[tuple(spec.name for spec in CHANNELS)]  # type: ignore[valid-type]


class SubscriptionSettings(_Section):
    channel: ChannelName
    address: str = "stdout"
    name: str | None = None
    rules: list[str] = Field(min_length=1)


class _Core(_Section):
    """The first settings; then each channel's section, then the rest (in this order in a dump)."""

    database_url: str = "sqlite:///data/newsalert.db"
    database_password: SecretStr | None = None  # put into database_url when it has none (from a file)
    poll_interval: Duration = timedelta(minutes=5)
    rules_language: str = "english"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log: LogSettings = LogSettings()
    http: HttpSettings = HttpSettings()


# the channels that have settings, each a section named as the channel (`telegram:`), in the
# registry's order (bot/channels/__init__.py)
CHANNEL_SECTIONS = {spec.name: spec.settings for spec in CHANNELS if spec.settings}
_WithChannels: type[_Core] = create_model(  # type: ignore[call-overload]
    "_WithChannels", __base__=_Core, **{name: (model, model()) for name, model in CHANNEL_SECTIONS.items()}
)


class Settings(_WithChannels):
    """Everything the bot needs to run, validated; secrets are SecretStr."""

    summary: SummarySettings = SummarySettings()
    stories: StoriesSettings = StoriesSettings()
    retention: RetentionSettings = RetentionSettings()
    delivery: DeliverySettings = DeliverySettings()
    polling: PollingSettings = PollingSettings()
    limits: LimitsSettings = LimitsSettings()
    feeds: list[FeedSettings] = []
    subscriptions: list[SubscriptionSettings] = []

    @field_validator("subscriptions")
    @classmethod
    def _one_subscription_per_address(cls, subs: list[SubscriptionSettings]) -> list[SubscriptionSettings]:
        seen: dict[tuple[str, str], int] = {}
        for i, sub in enumerate(subs):
            first = seen.setdefault((sub.channel, sub.address), i)
            if first != i:
                raise ValueError(
                    f"[{i}] repeats the channel and address of [{first}]; put all their rules in one"
                )
        return subs

    @model_validator(mode="after")
    def _password_into_url(self) -> Settings:
        if not self.database_password or urlsplit(self.database_url).password:
            return self
        from sqlalchemy.engine import make_url  # here: most commands never load SQLAlchemy
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(self.database_url).set(password=self.database_password.get_secret_value())
        except ArgumentError:
            raise ValueError("database_url is not a database URL like postgresql://user@host/name") from None
        return self.model_copy(update={"database_url": url.render_as_string(hide_password=False)})

    def secret_values(self) -> list[str]:
        """Every secret's value (tokens, the database password), for logs to blank out."""
        values = [value for name in CHANNEL_SECTIONS for value in getattr(self, name).secret_values()]
        values += self.summary.llm.secret_values()
        values.append(unquote(urlsplit(self.database_url).password or ""))
        values.append(urlsplit(self.database_url).password or "")
        if self.database_password:
            values.append(self.database_password.get_secret_value())
        return [value for value in values if len(value) >= 4]

    def redacted(self) -> dict[str, Any]:
        """A dump safe to log or print (`newsalert config show`): every secret shows as '**********',
        the database password too, and any secret's value found anywhere else (a token pasted into a
        URL) is blanked out. Durations read as they are written: 5m, 2h, 1d."""
        dump = _shown(self.model_dump(), sorted(self.secret_values(), key=len, reverse=True))
        url = urlsplit(self.database_url)
        if url.password is not None:
            user, _, host = url.netloc.rpartition("@")
            dump["database_url"] = url._replace(netloc=f"{user.split(':')[0]}:{REDACTED}@{host}").geturl()
        return dump


REDACTED = "**********"


def format_duration(value: timedelta) -> str:
    """The reverse of parse_duration: 300 s -> "5m", 90 s -> "90s"."""
    seconds = value.total_seconds()
    for unit in "dhm":
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def _shown(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {key: _shown(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(item, secrets) for item in value]
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
    return value


# Environment variable -> setting path. `NAME_FILE` reads a secret from a file instead.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "NEWSALERT_DATABASE_URL": ("database_url",),
    "NEWSALERT_DATABASE_PASSWORD": ("database_password",),
    "NEWSALERT_POLL_INTERVAL": ("poll_interval",),
    "NEWSALERT_LOG_LEVEL": ("log_level",),
    "NEWSALERT_LOG_FORMAT": ("log", "format"),
    "NEWSALERT_HTTP_PORT": ("http", "port"),
    "NEWSALERT_PUBLIC_URL": ("http", "public_url"),
    **{name: (spec.name, *key) for spec in CHANNELS for name, key in spec.environment.items()},
    "NEWSALERT_LLM_BASE_URL": ("summary", "llm", "base_url"),
    "NEWSALERT_LLM_MODEL": ("summary", "llm", "model"),
    "NEWSALERT_LLM_API_KEY": ("summary", "llm", "api_key"),
    "NEWSALERT_LLM_EMBEDDINGS_MODEL": ("summary", "llm", "embeddings_model"),
    "NEWSALERT_STORIES_WINDOW": ("stories", "window"),
    "NEWSALERT_RETENTION_ARTICLES": ("retention", "articles"),
    "NEWSALERT_RETENTION_OUTBOX": ("retention", "outbox"),
    "NEWSALERT_LIMITS_RULES_PER_CHAT": ("limits", "rules_per_chat"),
    "NEWSALERT_LIMITS_REGEX_RULES_PER_CHAT": ("limits", "regex_rules_per_chat"),
}


_SECRET_SECTIONS = (*CHANNEL_SECTIONS, "summary.llm", "database")


def config_path(option: str | None, environ: Mapping[str, str]) -> Path:
    return Path(option or environ.get("NEWSALERT_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """File (if any), then environment, then validation; a bad key or value raises ConfigError, naming
    the key, or the environment variable when the value came from one."""
    data = _read_yaml(path) if path else {}
    given: dict[tuple[str, ...], str] = {}  # setting -> the variable that gave its value
    for name, key in ENVIRONMENT.items():
        value = _from_environment(name, environ)
        if value is not None:
            _put(data, key, value)
            given[key] = f"{name}_FILE" if environ.get(f"{name}_FILE") else name
    base = path.parent if path else Path.cwd()
    for feed in data.get("feeds") or []:
        if isinstance(feed, dict) and isinstance(feed.get("url"), str):
            feed["url"] = resolve_feed_url(feed["url"], base)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise _config_error(error, given) from None


def resolve_feed_url(url: str, base: Path) -> str:
    """http(s) and file URLs as they are; a path, relative to the config file, as a file URL."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        return url
    return (base / url).resolve().as_uri()


MAX_CONFIG_BYTES = 1024 * 1024
MAX_SECRET_BYTES = 64 * 1024


CONFIG_HINT = (
    "Give its path with --config PATH or NEWSALERT_CONFIG, or run from the directory that holds "
    f"{DEFAULT_CONFIG}."
)


def _read_yaml(path: Path) -> dict[str, Any]:
    text = _read_text(path, MAX_CONFIG_BYTES, "", "configuration file", CONFIG_HINT)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        raise ConfigError("", f"{path} is not valid YAML: {_yaml_problem(error, text)}") from None
    except ValueError as error:  # a number of over 4,300 digits: Python's own message names no input
        raise ConfigError("", f"{path} is not valid YAML: {str(error).split(':')[0]}") from None
    except RecursionError:
        raise ConfigError("", f"{path} is not valid YAML: nested too deeply") from None
    except yaml.YAMLError as error:
        raise ConfigError("", f"{path} is not valid YAML ({type(error).__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("", f"{path} must hold a mapping of settings at the top level")
    return data


_QUOTED = re.compile(r"""(['"])(.*?)\1""")  # in a YAML problem: a token's name ('<scalar>'), or input


def _token_or_blank(quoted: re.Match[str]) -> str:
    """A token's name or one character ('\t') as it is; a longer quote of the file (an alias) blanked."""
    return quoted[0] if len(quoted[2]) < 3 or quoted[2].startswith("<") else "..."


def _yaml_problem(error: yaml.MarkedYAMLError, text: str) -> str:
    """Where, and what in general: never the line itself, nor a quoted part of it (it may be a secret)."""
    mark = error.problem_mark or error.context_mark
    problem = _QUOTED.sub(_token_or_blank, error.problem or "")
    if mark is None:
        return problem
    tab = text[mark.index : mark.index + 1] == "\t"
    return f"line {mark.line + 1}, column {mark.column + 1}: " + (
        "a tab; YAML indents with spaces" if tab else problem
    )


def _read_text(path: Path, most: int, key: str, what: str = "file", hint: str = "") -> str:
    """A small text file, whole; ConfigError for one that is missing, unreadable, too big or not text."""
    try:
        with path.open("rb") as handle:
            data = handle.read(most + 1)
    except FileNotFoundError:
        raise ConfigError(key, f"no {what} at {path}", hint) from None
    except PermissionError as error:
        readable = f"Make it readable by the user that runs newsalert (uid {os.geteuid()})."
        raise ConfigError(key, f"cannot read {path}: {error.strerror}", readable) from None
    except OSError as error:
        raise ConfigError(key, f"cannot read {path}: {error.strerror}") from None
    if len(data) > most:
        raise ConfigError(key, f"{path} is larger than {most // 1024} KB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(key, f"{path} is not UTF-8 text") from None


def _from_environment(name: str, environ: Mapping[str, str]) -> str | None:
    if environ.get(f"{name}_FILE"):
        return _read_text(Path(environ[f"{name}_FILE"]), MAX_SECRET_BYTES, f"{name}_FILE").strip() or None
    return environ.get(name) or None


def _put(data: dict[str, Any], key: tuple[str, ...], value: str) -> None:
    for part in key[:-1]:
        if data.get(part) is None:
            data[part] = {}
        if not isinstance(data[part], dict):
            raise ConfigError(part, "must be a section of settings (key: value lines), not a single value")
        data = data[part]
    data[key[-1]] = value


def _config_error(error: ValidationError, given: Mapping[tuple[str, ...], str]) -> ConfigError:
    """Every problem, each under the name the user wrote: the key, or the environment variable."""
    problems = []
    for each in error.errors():
        loc = _setting_loc(each["loc"])
        key = _key_name(loc)
        path = tuple(str(part) for part in loc if not isinstance(part, int))
        variable = next((name for at, name in given.items() if path[: len(at)] == at), key)
        problems.append((variable, _problem(each, key, loc)))
    key, first = problems[0]
    rest = "".join(f"; {k}: {p}" for k, p in problems[1:])
    return ConfigError(key, first + rest)


def _setting_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Pydantic's error location without its own steps (which validator, which type of a union): a
    key that only starts like one (interval, strict) stays."""
    return tuple(p for p in loc if isinstance(p, int) or not _is_pydantic_step(str(p)))


def _is_pydantic_step(part: str) -> bool:
    return part in ("int", "str", "float", "bool") or part.startswith(
        ("function-", "literal[", "is-instance[")
    )


def _key_name(loc: tuple[Any, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(top level)"


def _section_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a section takes, found by walking the settings models along loc (its last part is
    the unknown key)."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return []
        model = next((t for t in (field.annotation, *_inner_types(field.annotation)) if _is_section(t)), None)
    return list(model.model_fields) if _is_section(model) else []


def _inner_types(annotation: Any) -> list[Any]:
    inner = list(get_args(annotation))
    return inner + [t for each in inner for t in _inner_types(each)]


def _is_section(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _problem(error: dict[str, Any], key: str, loc: tuple[Any, ...] = ()) -> str:
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _section_keys(loc), n=1) if loc else []
        return f"unknown key; did you mean {close[0]}?" if close else "unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    if isinstance(error["input"], dict | list) or key.startswith(_SECRET_SECTIONS):
        return message  # never echo back what may be a secret
    return f"{message} (got {error['input']!r})"
