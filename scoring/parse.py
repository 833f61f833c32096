"""Read the one 0–10 score a customer's reply gives.

Over 400 lines: one reader, whose steps below only make sense together (table-tested).

The rule is *precision over recall*: when a reply does not give exactly one
plausible score, :func:`parse_score` returns ``None`` and the conversation asks
again. A wrong score is the worst outcome; asking again is cheap.

How a reply is read (see ``docs/scoring.md`` for the full table):

1. A bare number (``"9"``, ``"10"``, ``"09"``, ``"#8"``, ``"10!!"``) is answered at once.
2. Otherwise the text is normalised: keycap emoji and other Unicode decimal
   digits become ASCII digits, compatibility forms are folded (NFKC), accents
   are removed, case is folded; phone-like digit groups are removed.
3. The text is cut into numbers, words and symbols. Scale mentions
   (``de 0 a 10``, ``1 to 10``, ``/10``, ``de 10``, ``out of ten``) are removed,
   and numbers that are plainly something else are dropped: prices, percentages,
   times, dates, durations and quantities (``10 pesos``, ``a las 10``, ``2 días``),
   order/ticket numbers (``pedido 4512``), years and long identifiers.
4. Anything that makes the score uncertain *poisons* the reply: decimals,
   negative or signed numbers, ranges, other scales (``4/5``), out-of-range
   numbers, hedges (``casi 10``, ``y medio``) and negation (``no es un 10``).
5. The remaining candidates must agree on a single value (``8 (ocho)`` is fine,
   ``7 u 8`` is not).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["MAX_REPLY_CHARS", "parse_score"]

#: Replies longer than this are not read at all: a score answer is short.
MAX_REPLY_CHARS: Final = 2000

_BARE: Final[dict[str, int]] = {str(n): n for n in range(11)} | {f"0{n}": n for n in range(10)}
_SIMPLE: Final = re.compile(r"#?\s*0?(10|\d)\s*[.!]*")

_KEYCAP: Final = re.compile("([0-9])\ufe0f?\u20e3")
_NON_ASCII_DIGIT: Final = re.compile(r"(?![0-9])\d")
_COMBINING: Final = re.compile("[\u0300-\u036f]+")
_PHONE: Final = re.compile(r"\+?\(?\d(?:[\s().\-]{0,2}\d){6,}")
_ANY_DIGIT: Final = re.compile(r"\d")
_TOKEN: Final = re.compile(r"(\d+(?:[.,:]\d+)*)|([a-z]+)|(\S)")

_NUM, _WORD, _SYM = 0, 1, 2


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NUMBER_WORDS: Final[dict[str, int]] = {
    # Spanish
    "cero": 0, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
    # English
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    # Portuguese
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "quatro": 4, "sete": 7, "oito": 8,
    "nove": 9, "dez": 10,
    # out of range: read as numbers so that they make the reply ambiguous
    "onze": 11, "eleven": 11, "twelve": 12, "veinte": 20, "vinte": 20, "twenty": 20,
    "cien": 100, "cem": 100, "hundred": 100,
}  # fmt: skip
#: Number words that are also articles or pronouns ("one of the best", "um produto").
_WEAK_WORDS: Final = frozenset({"uno", "one", "um", "uma"})
_TEN: Final = frozenset({"10", "diez", "ten", "dez"})
_LOW_BOUND: Final = frozenset({"0", "1", "cero", "zero", "uno", "one", "um"})

# Connectors of a scale "0 a 10", "1 to 10", "entre 1 y 10".
_SCALE_TO: Final = frozenset({"a", "al", "to", "-", "–", "—", "ate", "hasta", "till", "until"})
_SCALE_AND: Final = frozenset({"y", "and", "e"})
_SCALE_PREFIX: Final = frozenset({"de", "del", "entre", "between", "from", "of", "escala", "scale"})
# "9 de 10", "9 out of 10", "9 sobre 10", "9 em 10", "9/10"
_OUT_OF: Final = frozenset({"de", "del", "of", "sobre", "em", "en", "over", "/"})

_MONTHS: Final = _words(
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre "
    "diciembre january february march april may june july august september october november "
    "december jan feb apr jun jul aug sep sept oct nov dec janeiro fevereiro marco maio junho "
    "julho setembro outubro novembro dezembro"
)
_DAY_WORDS: Final = frozenset({"dia", "day", "lunes", "martes", "sabado", "domingo"})
# Words after a number that make it a price, duration, time or quantity, not a score.
_UNITS: Final = _words(
    # money
    "peso pesos dolar dolares dollar dollars usd bucks eur euro euros real reais reales mxn "
    "ars brl clp cop soles sol pen libras pounds gbp cents centavos centimos mil k lucas "
    # time and duration
    "h hs hr hrs hora horas hour hours min mins minuto minutos minute minutes seg segundos "
    "segundo second seconds sec secs dia dias day days semana semanas week weeks mes meses "
    "month months ano anos year years am pm horario oclock "
    # quantities and things counted
    "vez veces vezes times time km kg gr gramos grams ml lt litros liters metros "
    "metres meters cm mb gb caja cajas caixa caixas box boxes producto productos produto "
    "produtos product products item items itens articulo articulos unidad unidades unidade "
    "units unit pedidos orders paquete paquetes pacote pacotes package packages "
    "persona personas pessoa pessoas people person estrella estrellas estrela estrelas star "
    "stars problema problemas problem problems queja quejas complaint complaints reclamo "
    "reclamos reclamacoes erro erros error errores errors llamada llamadas call calls ligacao "
    "ligacoes mensaje mensajes mensagem mensagens message messages correo correos email "
    "emails intentos tentativas attempts tries pisos floors cuadras blocks quadras"
)
# Words before a number that make it an identifier (order, ticket, phone, address...).
_ID_WORDS: Final = _words(
    "pedido pedidos orden order ordem compra ticket tiquete factura invoice nota_fiscal folio "
    "guia tracking rastreio rastreo seguimiento referencia reference ref cliente client "
    "customer account cuenta conta id cp cep codigo code zip sucursal branch store tienda loja "
    "mesa table habitacion room quarto vuelo flight voo linea line linha ruta route rota calle "
    "street rua avenida av piso floor andar apartamento apto depto tel telefono phone telefone "
    "cel celular whatsapp version versao v iphone modelo model talla size tamanho caja "
    "register paso step passo opcion option opcao pagina page lote batch serie serial "
    "chamado caso case protocolo protocol"
)
_ID_FILLERS: Final = frozenset(
    {"#", "no", "nro", "n", "num", "numero", "number", "nr", ":", ".", "de", "do"}
)
_CURRENCY_BEFORE: Final = frozenset({"$", "€", "£", "¥", "usd", "us", "eur", "mxn", "brl", "ars"})
# Words before a number that mark the start of the score ("le doy 9", "I'd give it a 7").
_CUES: Final = _words(
    "nota notas calificacion calificaria califico calificamos puntuacion puntaje puntuo "
    "doy daria damos pongo pondria pondre le les te un una es seria sea merece merecen vale "
    "give gave giving rate rated rating score scored say a an is its it solid deserve "
    "deserves dou daria darei dar damos coloco um uma e eh seria merecem avalio avaliacao "
    "pontuacao tipo like"
)
# Words that may follow a score without making it look like a quantity.
_FOLLOW_OK: Final = _words(
    "porque pq xq porq pues pero mas y e and but because cause cuz coz since so ya que q "
    "por para pra pro the la el lo los las o a os es is it its was fue foi esta ta estuvo "
    "foi muy very muito mucho bien bem well good great bueno buena bom boa excelente "
    "excellent excelent otimo otima perfecto perfecta perfect perfeito perfeita genial super "
    "top mal malo mala bad ruim pessimo pessima pesimo pesima horrible horrivel terrible "
    "awful regular ok okay okey gracias thanks thank thx obrigado obrigada valeu puntos "
    "points pontos pts sin sem without con com with en in no not nao todo toda tudo "
    "everything all servicio service servico atencion atendimento entrega delivery "
    "recomendado recomendada recommended recomendo recomiendo recommend amazing love loved "
    "me i we nos from felicidades congrats parabens saludos buen bon nice cool fine "
    "satisfecho satisfeito satisfied happy contento contenta feliz"
)
# Nouns a digit score may be followed by ("10 atención excelente") but a number word
# usually counts ("cero atención").
_FOLLOW_NOUNS: Final = _words(
    "servicio service servico atencion atendimento entrega delivery todo toda tudo everything all"
)
_HEDGES_BEFORE: Final = _words(
    "casi almost nearly quase aprox aproximadamente approximately around about cerca over "
    "under above below arriba acima abaixo debajo menos less mais more"
)
_HEDGES_AFTER: Final = frozenset(
    {"medio", "media", "half", "meio", "meia", "pico", "ish", "y", "e", "and"}
)
_HALF: Final = frozenset({"medio", "media", "half", "meio", "meia", "pico"})
_NEGATORS: Final = frozenset(
    {"no", "not", "nao", "nunca", "never", "jamas", "jamais", "nem", "ni", "t"}
)
_NEG_SKIP: Final = _words(
    "es e is was it s a un una um uma le te lo da dar doy daria seria sea would be ser "
    "merece merecen deserve deserves give gave de dou darei daria nota i you rate say would "
    "pongo pondria"
)
_ARTICLES: Final = frozenset({"a", "an", "un", "una", "um", "uma"})
_ALTERNATIVE: Final = frozenset(
    {"o", "u", "or", "ou", "y", "e", "and", "a", "to", "ate", "al", "hasta"}
)
_DASHES: Final = frozenset({"-", "–", "—", "‐", "−"})


def parse_score(text: str, language: str | None = None) -> int | None:
    """Return the single 0–10 score that ``text`` gives, or ``None``.

    ``None`` means "no score, or not sure": the caller should ask again. The
    optional ``language`` hint (``"es"``, ``"en"``, ``"pt"``) only refines
    readings that differ between languages (Portuguese "dos" is "of the").
    Never raises.
    """
    try:
        return _parse(text, language)
    except Exception:  # the contract is "never raises": an unforeseen input asks again
        return None


def _parse(text: object, language: str | None) -> int | None:
    if not isinstance(text, str) or len(text) > MAX_REPLY_CHARS:
        return None
    s = text.strip()
    bare = _BARE.get(s)
    if bare is not None:
        return bare
    if s.isascii():
        m = _SIMPLE.fullmatch(s)
        if m is not None:
            return int(m.group(1))
    s = _normalize(s)
    bare = _BARE.get(s)
    if bare is not None:
        return bare
    if isinstance(language, str):
        language = language[:2].lower()  # "pt-BR" -> "pt"
    return _read_tokens(s, language)


def _normalize(s: str) -> str:
    if not s.isascii():
        if "\u20e3" in s:
            s = _KEYCAP.sub(r"\1", s)
        s = s.replace("\U0001f51f", " 10 ")
        s = unicodedata.normalize("NFKC", s)
        s = _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), 0)), s)
        s = _COMBINING.sub("", unicodedata.normalize("NFD", s))
    s = s.lower().replace("\u2019", "'")
    if _ANY_DIGIT.search(s) is not None:
        s = _PHONE.sub(_drop_phone, s)
    return s.strip()


def _drop_phone(m: re.Match[str]) -> str:
    digit_groups = re.findall(r"\d+", m.group())
    if sum(map(len, digit_groups)) >= 7 and max(map(len, digit_groups)) >= 3:
        return " "
    return m.group()


Token = tuple[int, str, int, int]  # kind, text, start, end


def _value(tok: Token) -> int | None:
    kind, txt = tok[0], tok[1]
    if kind == _NUM:
        return int(txt) if txt.isdigit() and len(txt) <= 3 else None
    if kind == _WORD:
        return _NUMBER_WORDS.get(txt)
    return None


def _read_tokens(s: str, language: str | None) -> int | None:
    toks: list[Token] = []
    for m in _TOKEN.finditer(s):
        if m.lastindex == 1:
            toks.append((_NUM, m.group(1), m.start(), m.end()))
        elif m.lastindex == 2:
            toks.append((_WORD, m.group(2), m.start(), m.end()))
        else:
            toks.append((_SYM, m.group(3), m.start(), m.end()))
    if not toks:
        return None
    n = len(toks)
    txt = [t[1] for t in toks]
    consumed = [False] * n
    strong = [False] * n  # score position made explicit by a scale ("9 de 10")

    values = [_value(t) for t in toks]
    numbers = n - values.count(None)
    if numbers == 0:
        return None  # no number at all, or none that could be a score

    def at(i: int) -> str:
        return txt[i] if 0 <= i < n else ""

    def is_ten(i: int) -> bool:
        return 0 <= i < n and txt[i] in _TEN

    # Pass 1: scale mentions "de 0 a 10", "1 to 10", "entre 1 y 10", "escala de 10".
    for i in range(n if numbers > 1 or "escala" in txt or "scale" in txt else 0):
        if txt[i] in _LOW_BOUND and i + 2 < n:
            conn = txt[i + 1]
            if is_ten(i + 2) and (
                conn in _SCALE_TO or (conn in _SCALE_AND and at(i - 1) in _SCALE_PREFIX)
            ):
                consumed[i] = consumed[i + 1] = consumed[i + 2] = True
        if txt[i] in ("escala", "scale"):
            j = i + 1
            if at(j) in ("de", "of", "from", "do"):
                j += 1
            if is_ten(j) and not (at(j + 1) in _SCALE_TO or at(j + 1) in _SCALE_AND):
                consumed[j] = True

    poison = False
    # Pass 2: "9 de 10", "9/10", "9 out of 10", dates "9/10/2024", other scales "4/5".
    for i in range(n):
        if consumed[i]:
            continue
        kind = toks[i][0]
        if kind == _NUM and at(i + 1) == "/" and i + 2 < n and toks[i + 2][0] == _NUM:
            if at(i + 3) == "/" and i + 4 < n and toks[i + 4][0] == _NUM:  # a date
                for k in range(i, i + 5):
                    consumed[k] = True
            elif txt[i + 2] == "10" and not consumed[i + 2]:
                consumed[i + 1] = consumed[i + 2] = True
                strong[i] = True
            else:
                return None  # "4/5", "24/7": another scale or a fraction
            continue
        if values[i] is None:
            scale_word = txt[i] in ("sobre", "over") or (txt[i] == "of" and at(i - 1) == "out")
            if scale_word and is_ten(i + 1) and not consumed[i + 1]:
                consumed[i + 1] = True
            continue
        j = i + 1
        if at(j) == "out" and at(j + 1) == "of":
            j += 1
        if at(j) in _OUT_OF and j + 1 < n and not consumed[j + 1]:
            nxt = toks[j + 1]
            if is_ten(j + 1):
                consumed[j] = consumed[j + 1] = True
                strong[i] = True
            elif _value(nxt) is not None and (at(j) != "de" or at(j + 2) not in _MONTHS):
                return None  # "4 de 5", "3 out of 5": another scale

    candidates: set[int] = set()
    first_content = -1
    for i in range(n):
        if toks[i][0] != _SYM and not consumed[i]:
            first_content = i
            break

    for i in range(n):
        if consumed[i]:
            continue
        kind, word = toks[i][0], toks[i][1]
        if kind == _SYM:
            continue
        if kind == _WORD and word not in _NUMBER_WORDS:
            continue
        if kind == _WORD and word == "dos" and language == "pt":
            continue
        verdict = _judge(toks, i, consumed, strong[i], i == first_content, language)
        if verdict is _POISON:
            poison = True
            break
        if isinstance(verdict, int):
            candidates.add(verdict)
    if poison or len(candidates) != 1:
        return None
    return candidates.pop()


_POISON: Final = object()


def _judge(
    toks: list[Token],
    i: int,
    consumed: list[bool],
    strong: bool,
    first: bool,
    language: str | None,
) -> object:
    """Return the candidate value of token ``i``, ``None`` to ignore it, or ``_POISON``."""
    n = len(toks)
    kind, word, start, end = toks[i]
    prev = toks[i - 1] if i > 0 else None
    prev2 = toks[i - 2] if i > 1 else None
    nxt = toks[i + 1] if i + 1 < n else None
    nxt2 = toks[i + 2] if i + 2 < n else None
    p = prev[1] if prev else ""
    p2 = prev2[1] if prev2 else ""
    q = nxt[1] if nxt else ""
    q2 = nxt2[1] if nxt2 else ""
    prev_adjacent = prev is not None and prev[3] == start
    next_adjacent = nxt is not None and nxt[2] == end

    if kind == _NUM:
        if ":" in word:
            return None  # a time "10:30"
        if "." in word or "," in word:
            if p in _CURRENCY_BEFORE or q in _UNITS or q == "%":
                return None  # a price or a quantity "10.000 pesos"
            return _POISON  # a decimal "8.5", "7,5"
        if len(word) >= 5:
            return None  # an identifier, a postcode, an order or phone number
        value = int(word)
        if len(word) == 4 and 1900 <= value <= 2099:
            return None  # a year
    else:
        value = _NUMBER_WORDS[word]

    # Prices, percentages, units, times, dates, identifiers: not a score.
    if p in _CURRENCY_BEFORE or (p == "$" and p2 == "r"):
        return None
    if q == "%" or (q == "por" and q2 in ("ciento", "cento")) or q == "percent":
        return None
    if q in _UNITS and (kind == _WORD or next_adjacent or q not in _SUFFIX_ONLY):
        return None
    if kind == _NUM and next_adjacent and nxt is not None and nxt[0] == _WORD and q in _SUFFIX_ONLY:
        return None
    if q == "x" or (p == "x" and prev_adjacent):
        return None
    if p in ("las", "as") or (p == "la" and p2 in ("a", "desde", "hasta")):
        return None  # "a las 10", "às 10"
    if p == "at" and p2 not in ("rate", "rated", "it", "you", "them", "us", "score", "scored"):
        return None  # "arrived at 10"
    if p in _MONTHS or q in _MONTHS or (q == "de" and q2 in _MONTHS) or p in _DAY_WORDS:
        return None  # a date "10 de mayo", "may 10", "el día 10"
    j = i - 1
    while j >= 0 and toks[j][1] in _ID_FILLERS:
        j -= 1
    if j >= 0 and toks[j][1] in _ID_WORDS and j >= i - 3:
        return None  # "pedido 4512", "order #4512", "mesa 5"
    if p == "<" and prev_adjacent:
        return None  # "<3"
    if (
        p == ":"
        and prev_adjacent
        and (prev2 is None or prev is None or prev2[3] != prev[2])
        and value in (3, 0)
    ):
        return None  # ":3"

    # Signs, ranges, hedges and negations make the score uncertain.
    if p in _DASHES:
        if prev2 is not None and _value(prev2) is not None:
            return _POISON  # "7-8"
        if prev_adjacent and (prev2 is None or prev is None or prev2[3] != prev[2]):
            return _POISON  # "-1"
    if p == "+" and prev_adjacent:
        return _POISON
    if p in ("l", "i", "o") and prev_adjacent:
        return _POISON  # "l0", "I0": a mistyped 10
    if p in _ARTICLES and p2 in _HEDGES_BEFORE:
        return _POISON  # "nearly a 10"
    if q in _ALTERNATIVE and nxt2 is not None and not consumed[i + 2] and _value(nxt2) is not None:
        return _POISON  # "7 o 8", "7 or 8", "9 a 10"
    if (
        p in _ALTERNATIVE
        and prev2 is not None
        and not consumed[i - 2]
        and _value(prev2) is not None
    ):
        return _POISON
    if p in _HEDGES_BEFORE or (p == "de" and p2 in ("mas", "menos", "mais", "arriba", "acima")):
        return _POISON  # "casi 10", "más de 8"
    if p == "than" or (p == "que" and p2 in ("mas", "menos", "mais")):
        return _POISON
    if (
        q in _HALF
        or (q in _HEDGES_AFTER and q2 in _HALF)
        or (
            q in ("and", "e", "y")
            and q2 == "a"
            and nxt2 is not None
            and i + 3 < n
            and toks[i + 3][1] == "half"
        )
    ):
        return _POISON  # "nueve y medio", "8 and a half"
    if q == "ish" or (q == "-" and q2 == "ish"):
        return _POISON
    j = i - 1
    while j >= 0 and (toks[j][1] in _NEG_SKIP or toks[j][1] == "'"):
        j -= 1
    negated = j >= max(0, i - 5) and toks[j][1] in _NEGATORS
    if negated and (toks[j][1] != "t" or (j > 0 and toks[j - 1][1] == "'")):
        return _POISON  # "no es un 10", "not a 10"

    if value > 10:
        return _POISON  # "11", "100": out of range

    # Is it a score, or a number in passing ("llegaron 2 cajas")?
    next_is_boundary = nxt is None or nxt[0] != _WORD or consumed[i + 1]
    prev_is_boundary = prev is None or prev[0] == _SYM or consumed[i - 1]
    prev_is_cue = p in _CUES
    if kind == _WORD:
        if word in _WEAK_WORDS:
            if nxt is not None and (_value(nxt) is not None or nxt[0] == _WORD):
                return None  # an article or pronoun: "un 10", "one of the best"
            if not (first or prev_is_cue or prev_is_boundary):
                return None
            return value
        if strong:
            return value
        if not (next_is_boundary or (q in _FOLLOW_OK and q not in _FOLLOW_NOUNS)):
            return None  # "cero problemas", "tres productos": a quantity
        if not (
            first
            or prev_is_cue
            or prev_is_boundary
            or (prev is not None and _value(prev) is not None)
        ):
            return None
        return value
    if strong or first or prev_is_cue or prev_is_boundary:
        return value
    if next_is_boundary or q in _FOLLOW_OK:
        return value
    # A digit between words ("compré 2 camisas") is a quantity; the reply is about
    # something else, so another number in it is not trusted either.
    return _POISON


# Suffixes that only count when glued to the number ("10am", "1st", "10h", "2x").
_SUFFIX_ONLY: Final = _words(
    "h hs am pm o st nd rd th er ro ra re do da to ta vo va no na x k g m l gr ml cm km kg lt a "
    "us mil min mins hr hrs seg sec secs mb gb"
)
