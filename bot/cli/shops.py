"""`npsbot shops add|list|remove`: shops whose signed order webhooks trigger surveys
(docs/integrations.md, "Shops")."""

from __future__ import annotations

import click

from bot.cli.common import runtime
from bot.integrations.shops.admin import (
    NewShop,
    Refused,
    add_shop,
    list_shops,
    remove_shop,
    webhook_path,
)
from bot.integrations.shops.registry import PLATFORMS

# What to do in each shop's admin once it is added (docs/integrations.md has the details).
NEXT_STEPS = {
    "shopify": (
        "In Shopify: Settings > Notifications > Webhooks > Create webhook (or your app's "
        "webhook subscriptions): event {topics}, format JSON, URL above. The secret is the "
        "signing key shown there (or the app's client secret)."
    ),
    "woocommerce": (
        "In WordPress: WooCommerce > Settings > Advanced > Webhooks > Add webhook: status "
        "Active, topic Order updated, delivery URL above, secret: the same secret. Surveys "
        "start when an order becomes completed."
    ),
    "tiendanube": (
        "Register the webhook with your app's token: POST {api}/v1/<store id>/webhooks "
        '{{"event": "order/fulfilled", "url": "<URL above>"}}. The secret is your app\'s '
        "client secret."
    ),
}


@click.group()
def shops() -> None:
    """Shops (Shopify, WooCommerce, Tiendanube) whose order webhooks trigger surveys."""


@shops.command("add")
@click.argument("key")
@click.option(
    "--platform", type=click.Choice(sorted(PLATFORMS)), required=True, help="The shop's platform."
)
@click.option(
    "--secret",
    prompt=True,
    hide_input=True,
    help="The webhook signing secret (Shopify/Tiendanube: the app's client secret). Prompted "
    "when not given, so it stays out of the shell history.",
)
@click.option("--survey", help="The survey to trigger. Default: the first survey.")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="An order event that triggers (repeatable). Default: orders/fulfilled, order.updated "
    "(completed) or order/fulfilled.",
)
@click.option("--store-id", help="Tiendanube: the store's id (user_id when the app was installed).")
@click.option("--access-token", help="Tiendanube: the store's API access token.")
def add(
    key: str,
    platform: str,
    secret: str,
    survey: str | None,
    topics: tuple[str, ...],
    store_id: str | None,
    access_token: str | None,
) -> None:
    """Add shop KEY; prints the URL to paste in the shop and the next steps."""
    rt = runtime()
    try:
        shop = add_shop(rt, NewShop(key, platform, secret, survey, topics, store_id, access_token))
    except Refused as exc:
        raise click.ClickException(str(exc)) from exc
    base = (rt.settings.public_base_url or "https://<your-host>").rstrip("/")
    click.echo(f"{base}{webhook_path(shop)}")
    steps = NEXT_STEPS[shop.platform].format(
        topics=" and ".join(shop.topics), api=rt.settings.tiendanube_api_url
    )
    click.echo(f"Next: {steps}")
    if not rt.settings.public_base_url:
        click.echo("PUBLIC_BASE_URL is not set: put your public https address in its place.")


@shops.command("list")
def list_cmd() -> None:
    """One line per shop: key, platform, survey, topics, webhook path, where it is configured
    (database or file); never the secret."""
    rt = runtime()
    try:
        shops = list_shops(rt)
    except Refused as exc:  # a SHOPS_FILE that cannot work
        raise click.ClickException(str(exc)) from exc
    for shop, where in shops:
        survey = shop.survey or "(first survey)"
        topics = ",".join(shop.topics)
        click.echo(
            f"{shop.key}\t{shop.platform}\t{survey}\t{topics}\t{webhook_path(shop)}\t{where}"
        )


@shops.command("remove")
@click.argument("key")
def remove(key: str) -> None:
    """Remove shop KEY: its webhooks are answered 404 from now on (remove them in the shop)."""
    rt = runtime()
    try:
        remove_shop(rt, key)
    except Refused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {key}; delete its webhook in the shop too")
