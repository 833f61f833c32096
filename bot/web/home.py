"""`GET /`: a small landing page, in the visitor's language (es/en/pt by Accept-Language), that
links what a new user came to try: the sandbox (when enabled), the dashboard and the API docs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from bot.config import LANGUAGES
from bot.web.context import runtime

bp = Blueprint("home", __name__)

# The page's few words; the customer texts' catalogs (bot/locale) are for customers.
WORDS: dict[str, dict[str, str]] = {
    "es": {
        "lead": "Encuestas NPS por WhatsApp, SMS y Telegram.",
        "sandbox": "Sandbox",
        "sandbox_why": "juega a ser un cliente: compra, responde la encuesta, sin credenciales",
        "dashboard": "Panel",
        "dashboard_why": "el NPS, sus temas, comentarios y casos (para el personal)",
        "docs": "API",
        "docs_why": "la descripción OpenAPI de la API (compras, NPS, respuestas)",
        "health": "Estado",
    },
    "en": {
        "lead": "NPS surveys over WhatsApp, SMS and Telegram.",
        "sandbox": "Sandbox",
        "sandbox_why": "play a customer: buy, answer the survey, no credentials needed",
        "dashboard": "Dashboard",
        "dashboard_why": "the NPS, its themes, comments and cases (for staff)",
        "docs": "API",
        "docs_why": "the API's OpenAPI description (purchases, NPS, responses)",
        "health": "Health",
    },
    "pt": {
        "lead": "Pesquisas NPS por WhatsApp, SMS e Telegram.",
        "sandbox": "Sandbox",
        "sandbox_why": "faça de conta que é um cliente: compre, responda, sem credenciais",
        "dashboard": "Painel",
        "dashboard_why": "o NPS, seus temas, comentários e casos (para a equipe)",
        "docs": "API",
        "docs_why": "a descrição OpenAPI da API (compras, NPS, respostas)",
        "health": "Status",
    },
}


@bp.get("/")
def index() -> Any:
    language = request.accept_languages.best_match(LANGUAGES, default="en") or "en"
    page = render_template(
        "home.html",
        lang=language,
        words=WORDS[language],
        sandbox=runtime().settings.sandbox_enabled,
    )
    return page, 200, {"Content-Language": language, "Vary": "Accept-Language"}
