"""Shops that trigger surveys: signed order webhooks in (issue 21, docs/integrations.md).

One module per shop (`shopify`, `woocommerce`, `tiendanube`) says how its webhook is signed and
how its order becomes the purchase `POST /api/v1/purchases` takes; `common` holds what they
share; `registry` names them and checks a shop's configuration; `receive` is the one flow
(verify, dedupe, store, fetch, register); `declared` reads SHOPS_FILE; `admin` is
`npsbot shops add|list|remove`.
"""
