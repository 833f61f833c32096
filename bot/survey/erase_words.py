"""A customer's own request to erase their data, in their words ("BORRAR MIS DATOS", "delete my
data", "apagar meus dados"), and the yes that confirms it. Pure: read by the conversation.

A request is a whole message: a verb that erases, then "my data", with politeness around it
("borra mis datos por favor", "please delete my data"); a comment that only mentions erasing
("no borren mi pedido", "don't delete my data") is not one.
"""

from __future__ import annotations

import re
from datetime import timedelta

from scoring import fold

# A yes this long after the confirmation question erases; later, it is an ordinary message.
CONFIRM_WINDOW = timedelta(minutes=10)

_POLITE = r"(?:por favor|porfa|porfavor|please|pls|plz|plis|por gentileza|ahora|now|agora|ya|ja)"
_LEAD = (
    r"(?:(?:quiero|quisiera|necesito|deseo|solicito|pido|puedes|pueden|podrian|podrias"
    r"|i want you to|i want to|i would like to|i d like to|id like to|can you|could you"
    r"|eu quero|quero|gostaria de|pode|podem|poderiam|preciso)(?: que)? )?"
)
_VERB = (
    r"(?:borrar|borra|borre|borren|borrad|borran|eliminar|elimina|elimine|eliminen|suprimir"
    r"|suprime|delete|erase|remove|wipe|forget|apagar|apaga|apague|apaguem|excluir|exclui"
    r"|exclua|excluam|deletar|deleta|delete|remover|remova|removam)"
)
# The object names the language: "mis datos", "my data", "meus dados".
_OBJECT = {
    "es": r"(?:todos )?(?:mis|los|todos mis|todos los) datos(?: personales)?",
    "en": r"(?:all )?(?:of )?my (?:personal )?(?:data|information|info|details)",
    "pt": r"(?:todos )?(?:os )?(?:meus|todos os meus) dados(?: pessoais)?",
}
_REQUEST = {
    lang: re.compile(rf"(?:{_POLITE} )*{_LEAD}{_VERB} {obj}(?: {_POLITE})*")
    for lang, obj in _OBJECT.items()
}
_YES = frozenset({"si", "yes", "sim", "si confirmo", "yes i confirm", "sim confirmo"})


def _words(text: str) -> str:
    """Lower-case, accents and punctuation off, one space between words."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())


def request(text: str) -> str | None:
    """The language of an erasure request (es, en, pt), or None for any other message."""
    said = _words(text)
    if len(said) > 120:
        return None  # a long message is a comment, whatever it mentions
    return next((lang for lang, rx in _REQUEST.items() if rx.fullmatch(said)), None)


def affirmative(text: str) -> bool:
    """SÍ, SI, YES, SIM (any case, accents and punctuation ignored)."""
    return _words(text) in _YES
