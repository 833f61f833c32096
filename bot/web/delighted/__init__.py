"""`/delighted/v1`: a compatible subset of Delighted's v1 API, for its users' integrations and
client libraries (docs/integrations.md). One blueprint (`core.bp`); each module registers its
endpoints on it, every path with and without `.json`."""

from bot.web.delighted import people, responses
from bot.web.delighted.core import bp

__all__ = ["bp", "people", "responses"]
