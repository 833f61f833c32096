# ruff: noqa: E501  (word lists)
"""Sentiment lexicon (es/en/pt) used by :mod:`scoring.comments`.

Valences from −3 (very negative) to +3 (very positive), written without accents;
words are matched by their Snowball stem, so one form covers its inflections.
"""

from __future__ import annotations

from typing import Final


def _parse(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in text.split():
        word, _, value = item.rpartition(":")
        out[word] = float(value)
    return out


VALENCE: Final[dict[str, dict[str, float]]] = {
    "es": _parse(
        """
        bueno:2 buena:2 buen:2 bien:1.5 excelente:3 genial:3 perfecto:3 increible:3
        maravilloso:3 espectacular:3 fantastico:3 estupendo:3 rapido:1.5 rapida:1.5 amable:2
        atento:2 cordial:2 servicial:2 educado:1.5 gracias:1.5 recomendado:2 recomiendo:2
        encanta:3 encanto:3 encantado:3 feliz:2.5 contento:2 satisfecho:2 mejor:2 barato:1
        economico:1 limpio:1.5 fresco:1.5 puntual:2 facil:1.5 eficiente:2 profesional:2
        super:2 lindo:2 bonito:2 agradable:2 resolvieron:2 solucionaron:2 gusto:2 top:2
        felicidades:2 felicitaciones:2 impecable:3 rico:2 deliciosa:3 delicioso:3 ok:0.5
        malo:-2 mala:-2 mal:-2 pesimo:-3 pesima:-3 terrible:-3 horrible:-3 lento:-1.5
        lenta:-1.5 tarde:-1.5 tardo:-1.5 tardaron:-1.5 demora:-1.5 demoro:-1.5 retraso:-2
        caro:-1.5 cara:-1 roto:-2 rota:-2 sucio:-2 sucia:-2 grosero:-2.5 grosera:-2.5
        maleducado:-2.5 peor:-3 decepcion:-2.5 decepcionado:-2.5 decepcionante:-2.5
        problema:-1.5 queja:-1.5 fatal:-3 espantoso:-3 asco:-3 desastre:-3 lamentable:-2.5
        deficiente:-2 mediocre:-2 equivocado:-1.5 error:-1.5 falla:-1.5 fallo:-1.5
        perdido:-1.5 perdieron:-2 estafa:-3 robo:-3 abuso:-2.5 ignoraron:-2 incompleto:-1.5
        defectuoso:-2 danado:-2 mentira:-2.5 molesto:-2 enojado:-2.5 triste:-2
        insatisfecho:-2.5 inaceptable:-3 verguenza:-2.5 frio:-1 fria:-1 nadie:-1.5 nunca:-1 cancelaron:-2 falta:-1 faltaba:-1.5 regular:-0.5 buenos:2 buenas:2 ayudaron:1.5
        """
    ),
    "en": _parse(
        """
        good:2 great:3 excellent:3 amazing:3 awesome:3 perfect:3 fast:1.5 quick:1.5
        friendly:2 kind:2 helpful:2 polite:1.5 thanks:1.5 thank:1.5 recommend:2 love:3
        loved:3 happy:2.5 satisfied:2 best:3 incredible:3 wonderful:3 cheap:1 affordable:1.5
        clean:1.5 fresh:1.5 punctual:2 easy:1.5 efficient:2 professional:2 nice:2 fine:1
        smooth:1.5 fantastic:3 outstanding:3 reliable:2 lovely:2.5 pleasant:2 solved:2
        resolved:2 delicious:3 superb:3 attentive:2 impressed:2.5 ok:0.5 okay:0.5
        bad:-2 terrible:-3 awful:-3 horrible:-3 slow:-1.5 late:-1.5 delay:-1.5 delayed:-2
        expensive:-1.5 overpriced:-2 broken:-2 dirty:-2 rude:-2.5 worst:-3 poor:-2
        disappointed:-2.5 disappointing:-2.5 problem:-1.5 issue:-1.5 complaint:-1.5
        wrong:-1.5 missing:-1.5 lost:-1.5 cold:-1 crash:-2 crashes:-2 crashing:-2 bug:-1.5
        buggy:-2 error:-1.5 failed:-2 fail:-2 scam:-3 waited:-1 waiting:-1 unhelpful:-2
        useless:-2.5 annoying:-2 angry:-2.5 unacceptable:-3 mediocre:-2 damaged:-2
        defective:-2 incomplete:-1.5 ignored:-2 nobody:-1.5 pathetic:-3 disgusting:-3
        hate:-3 impolite:-2.5 ridiculous:-2.5 overcharged:-2 disappointment:-2.5 nothing:-0.5 forever:-1 frustrating:-2.5 confusing:-1.5 meh:-0.5 mess:-2
        """
    ),
    "pt": _parse(
        """
        bom:2 boa:2 bem:1.5 otimo:3 otima:3 excelente:3 perfeito:3 perfeita:3 rapido:1.5
        rapida:1.5 gentil:2 atencioso:2 simpatico:2 educado:1.5 obrigado:1.5 obrigada:1.5
        recomendo:2 amei:3 adorei:3 gostei:2 feliz:2.5 satisfeito:2 melhor:2 incrivel:3
        maravilhoso:3 barato:1 limpo:1.5 fresco:1.5 pontual:2 facil:1.5 eficiente:2
        profissional:2 legal:2 top:2 show:2 prestativo:2 resolveram:2 agradavel:2
        parabens:2.5 sensacional:3 impecavel:3 delicioso:3 gostoso:2 nota:0 ok:0.5
        ruim:-2 pessimo:-3 pessima:-3 horrivel:-3 terrivel:-3 lento:-1.5 lenta:-1.5
        atrasado:-2 atraso:-2 demora:-1.5 demorou:-1.5 demorado:-1.5 caro:-1.5 quebrado:-2
        sujo:-2 grosso:-2 grosseiro:-2.5 mal:-2 pior:-3 decepcionado:-2.5 decepcao:-2.5
        problema:-1.5 reclamacao:-1.5 errado:-1.5 faltando:-1.5 perdido:-1.5 frio:-1
        travando:-2 trava:-2 bug:-1.5 erro:-1.5 falha:-1.5 golpe:-3 esperei:-1 inutil:-2.5 ignorou:-2 ignoraram:-2 bons:2 boas:2 erros:-1.5
        chato:-2 absurdo:-2.5 inaceitavel:-3 defeito:-2 defeituoso:-2 danificado:-2
        ninguem:-1.5 descaso:-2.5 lixo:-3 vergonha:-2.5 nunca:-1 cancelaram:-2 faltou:-1.5
        demoraram:-1.5 regular:-0.5 mediano:-0.5
        """
    ),
}

#: Words that flip the valence of the next few words.
NEGATORS: Final = frozenset(
    [
        "no",
        "ni",
        "nunca",
        "jamas",
        "sin",
        "tampoco",
        "not",
        "no",
        "never",
        "without",
        "nor",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "cant",
        "couldnt",
        "wont",
        "wouldnt",
        "hardly",
        "nao",
        "nem",
        "sem",
        "jamais",
        "nenhum",
        "nenhuma",
    ]
)
#: Negators that are prepositions ("sin problemas"): no complaint on their own.
PREPOSITION_NEGATORS: Final = frozenset({"sin", "sem", "without", "ni", "nem", "nor"})
#: Words that strengthen the next sentiment word.
BOOSTERS: Final[dict[str, float]] = dict.fromkeys(
    [
        "muy",
        "super",
        "re",
        "tan",
        "bastante",
        "demasiado",
        "sumamente",
        "totalmente",
        "very",
        "really",
        "so",
        "extremely",
        "too",
        "super",
        "totally",
        "absolutely",
        "incredibly",
        "muito",
        "bem",
        "bastante",
        "demais",
        "totalmente",
        "mega",
    ],
    1.5,
) | dict.fromkeys(["poco", "algo", "little", "bit", "slightly", "somewhat", "meio", "pouco"], 0.5)
#: Contrast words: what follows outweighs what came before ("bueno pero caro").
CONTRAST: Final = frozenset(
    [
        "pero",
        "aunque",
        "sin_embargo",
        "but",
        "however",
        "although",
        "though",
        "mas",
        "porem",
        "entretanto",
    ]
)

EMOJI: Final[dict[str, float]] = {
    "👍": 2, "👏": 2, "🙌": 2, "😊": 2, "🙂": 1, "😀": 2, "😃": 2, "😄": 2, "😁": 2, "😍": 3,
    "🥰": 3, "❤": 3, "💖": 3, "💯": 2, "🔥": 2, "⭐": 1.5, "🌟": 2, "👌": 2, "🙏": 1.5, "🤩": 3,
    "😉": 1, "☺": 2, "💪": 1.5, "🎉": 2,
    "👎": -2, "😡": -3, "😠": -2.5, "🤬": -3, "😞": -2, "😢": -2, "😭": -2.5, "💩": -3,
    "😒": -1.5, "🙄": -1.5, "😤": -2, "😩": -2, "😫": -2, "😕": -1, "🙁": -1.5, "☹": -1.5,
    "🤮": -3, "😔": -1.5,
}  # fmt: skip
