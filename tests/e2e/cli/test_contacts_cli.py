"""`npsbot contacts import FILE.csv` and `npsbot contacts show ID`: a spreadsheet of customers
becomes contacts with their attributes and consent, line by line, as the API would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import Consent, Contact


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return CliRunner()


def test_a_spreadsheet_of_customers_becomes_contacts_line_by_line(
    cli: CliRunner, rt: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "clientes.csv"
    # Excel in Spanish: ';' between cells, Windows-1252, day-first dates, an extra column.
    path.write_bytes(
        "customer_id;name;phone;language;attribute.segment;attribute.city;consent.whatsapp;"
        "consent_source;consent_at;notas\n"
        "C-1;Ana Núñez;55 1234 5678;es;gold;CDMX;sí;formulario de caja;01/11/2026 10:00;vip\n"
        "C-2;Bruno;+5511987654321;pt;silver;São Paulo;no;;;\n"
        ";Sin id;+525500000000;es;;;;;;\n"
        "C-4;Eva;123;es;;;;;;\n"
        "C-5;Luz;+525511112222;es;;;quizás;;;\n".encode("cp1252")
    )
    result = cli.invoke(main, ["contacts", "import", str(path)])
    assert result.exit_code == 1  # some lines were refused
    assert f"{path}: read as cp1252, ';'-separated" in result.output
    assert "ignored unknown column(s) notas" in result.output
    assert f"{path}: line 4: customer_id: is required" in result.output
    assert f"{path}: line 5: phone: not a valid phone number: '123'" in result.output
    assert f"{path}: line 6: consent.whatsapp: 'quizás' is not yes or no" in result.output
    assert "2 created, 0 updated, 3 with errors" in result.output
    with rt.db.session() as s:
        ana = s.scalar(select(Contact).where(Contact.external_id == "C-1"))
        assert ana is not None and ana.name == "Ana Núñez" and ana.phone == "+525512345678"
        assert ana.attributes == {"segment": "gold", "city": "CDMX"}
        grant = s.scalar(select(Consent).where(Consent.contact_id == ana.id))
        assert grant is not None and (grant.given, grant.method) == (True, "csv")
        assert (grant.source, grant.at.isoformat()) == (
            "formulario de caja",
            "2026-11-01T10:00:00+00:00",  # day-first: the file is ';'-separated
        )
    again = cli.invoke(main, ["contacts", "import", str(path)])
    assert "0 created, 2 updated, 3 with errors" in again.output
    with rt.db.session() as s:
        assert len(s.scalars(select(Consent)).all()) == 2  # nothing twice


def test_contacts_show_prints_what_the_api_gives(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,name,attribute.plan\nC-9,Rita,anual\n", encoding="utf-8")
    assert cli.invoke(main, ["contacts", "import", str(path)]).exit_code == 0
    shown = cli.invoke(main, ["contacts", "show", "C-9"])
    body = json.loads(shown.output)
    assert (body["id"], body["name"], body["attributes"]) == ("C-9", "Rita", {"plan": "anual"})
    missing = cli.invoke(main, ["contacts", "show", "nobody"])
    assert missing.exit_code == 1 and missing.output == "Error: no contact 'nobody'\n"


def test_a_file_without_the_id_column_is_refused_on_line_1(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nAna,+525512345678\n", encoding="utf-8")
    result = cli.invoke(main, ["contacts", "import", str(path)])
    assert result.exit_code == 1
    assert f"{path}: line 1: missing column customer_id" in result.output


def test_erase_asks_first_then_erases_by_id_or_phone(cli: CliRunner, rt: Runtime) -> None:
    with rt.db.session() as s:
        s.add_all(
            [
                Contact(external_id="C-1", name="Ana", phone="+525512345678", language="es"),
                Contact(external_id="C-2", name="Bruno", phone="+525511112222", language="es"),
            ]
        )
    no = cli.invoke(main, ["contacts", "erase", "C-1"], input="n\n")
    assert no.exit_code == 1 and "Erase everything npsbot holds about C-1?" in no.output
    yes = cli.invoke(main, ["contacts", "erase", "C-1"], input="y\n")
    assert yes.exit_code == 0, yes.output
    assert "erased C-1: 0 score(s) kept anonymous" in yes.output
    by_phone = cli.invoke(main, ["contacts", "erase", "--phone", "55 1111 2222", "--yes"])
    assert by_phone.exit_code == 0 and "erased 55 1111 2222:" in by_phone.output
    again = cli.invoke(main, ["contacts", "erase", "C-1", "--yes"])
    assert again.exit_code == 1 and "no contact 'C-1'" in again.output
    with rt.db.session() as s:
        assert s.scalars(select(Contact)).all() == []
