"""The data summary (``portal.summary.content``) as a PDF, with ReportLab.

The standard PDF fonts (Helvetica) cover French (é, œ, «, €): no font file
to ship. Every text passes through ``escape`` because ReportLab paragraphs
read a little markup. The document's title is generic and its author the
clinic: the file's properties name no patient.
"""

from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from portal.summary import content as model

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9.5, leading=12)
    return {
        "title": ParagraphStyle(
            "title", parent=base["Title"], fontSize=18, alignment=0
        ),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=13),
        "h3": ParagraphStyle("h3", parent=base["Heading4"], fontSize=10.5),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5),
        "head": ParagraphStyle(
            "head", parent=body, fontSize=8.5, leading=10.5, fontName="Helvetica-Bold"
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _grid(rows: list[list[Paragraph]], widths: list[float], header: bool) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    commands = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    table.setStyle(TableStyle(commands))
    return table


def _facts(block: model.Facts, styles: dict) -> list:
    rows = [
        [_p(label, styles["head"]), _p(value, styles["cell"])]
        for label, value in block.rows
    ]
    return [_grid(rows, [WIDTH * 0.35, WIDTH * 0.65], header=False)]


def _table(block: model.Table, styles: dict) -> list:
    flow: list = []
    if block.caption:
        flow.append(_p(block.caption, styles["h3"]))
    if not block.rows:
        return [*flow, _p(block.empty, styles["body"])]
    rows = [[_p(h, styles["head"]) for h in block.headers]]
    rows += [[_p(cell, styles["cell"]) for cell in row] for row in block.rows]
    widths = [WIDTH / len(block.headers)] * len(block.headers)
    return [*flow, _grid(rows, widths, header=True)]


def summary_pdf(summary: model.Summary) -> bytes:
    """The PDF file of ``summary``, in the active language."""
    styles = _styles()
    buffer = BytesIO()
    footer = f"{summary.clinic} · {summary.generated_on.isoformat()}"
    page_word = pgettext("data summary", "Page")

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(MARGIN, 10 * mm, footer)
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"{page_word} {doc.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=_("Summary of your data"),
        author=summary.clinic,
        creator="Liaison",
    )
    flow: list = [
        _p(summary.clinic, styles["body"]),
        _p(_("Summary of your data"), styles["title"]),
        _p(summary.patient_name, styles["h3"]),
        _p(summary.generated, styles["body"]),
    ]
    for section in summary.sections:
        heading = [Spacer(1, 4 * mm), _p(section.title, styles["h2"])]
        if section.intro:
            heading.append(_p(section.intro, styles["body"]))
        blocks: list = []
        for block in section.blocks:
            render = _facts if isinstance(block, model.Facts) else _table
            blocks += render(block, styles)
            blocks.append(Spacer(1, 2 * mm))
        # A heading never ends a page alone.
        flow.append(KeepTogether(heading + blocks[:2]))
        flow += blocks[2:]
    if summary.contact:
        flow += [
            Spacer(1, 4 * mm),
            _p(
                _("To ask about this data, contact %(clinic)s: %(contact)s.")
                % {"clinic": summary.clinic, "contact": summary.contact},
                styles["body"],
            ),
        ]
    document.build(flow, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
