"""A customer export as another Chinese CRM writes it (GBK CSV), with every kind of mess issue 10 lists, and
what the generator knows it put in: the browser test compares the preview, the import's outcome, the
skipped-rows file and the database with these numbers, so they are counted here from the generator's own
decisions (which rows it broke, which it repeated), not by running the importer's code.

The mess: a title row and a blank row above the header; header words of a Chinese CRM (客户名称, 联系电话,
电子邮箱, 省份, 城市, 详细地址, 客户级别, 客户来源, 负责人, 创建时间; 负责人 names reps of the old CRM who
are no colleagues here: one warning per name, the importer owns the rows); two source words the workspace
does not know (老客户介绍, 电话开发) among known ones (展会, 官网,
转介绍, 陌拜); phones written with +86, spaces and dashes; a few bad phones (the phone is the key: those rows
are skipped) and rows without a name (skipped); a few bad emails (left out with a warning, the row is
kept); rows repeating an earlier customer's phone further down (merged: the later row's non-empty values
win); a blank row in the middle; a totals line (合计) at the end. Deterministic: no randomness.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

HEADER = [
    "客户名称",
    "联系人",
    "联系电话",
    "电子邮箱",
    "省份",
    "城市",
    "详细地址",
    "客户级别",
    "客户来源",
    "负责人",
    "创建时间",
]
NAME, CONTACT, PHONE, EMAIL, PROVINCE, CITY, ADDRESS, LEVEL, SOURCE, OWNER, CREATED = range(len(HEADER))
TITLE = "客户信息导出（某某CRM，导出时间 2026-11-30 17:45）"
N = 1200  # distinct customers written (before the repeats)
KNOWN_SOURCES = ("展会", "官网", "转介绍", "陌拜")
UNKNOWN_SOURCES = ("老客户介绍", "电话开发")
# One source per row, by index: the two unknown words among the known ones and blanks.
SOURCE_CYCLE = ("展会", "官网", "老客户介绍", "转介绍", "电话开发", "陌拜", "")
PLACES = (
    ("江苏", "苏州"),
    ("浙江", "杭州"),
    ("广东", "深圳"),
    ("上海", "上海"),
    ("山东", "青岛"),
    ("四川", "成都"),
)
FIRST = "华明远达恒信宏泰瑞丰鑫诚永安金鼎博创嘉禾中和天成新元盛世长江东方"  # 32 characters
SECOND = "科贸实机电五化建物包印食纺医仪环能精钢塑光声网数智云联通航海山川林木石金银铜铝"  # 39
INDUSTRY = ("有限公司", "股份有限公司", "有限责任公司")
# Rows the generator breaks (index -> bad value): the phone is the import's key, so these rows are skipped.
BAD_PHONES = {37: "12345", 211: "电话待补", 498: "1.39E+10", 777: "139000", 1013: "021-"}
NO_NAME = (150, 640, 1100)  # skipped: the name is empty
BAD_EMAILS = {60: "wang@", 333: "无", 505: "li.example.com", 888: "zhang@@qq.com"}  # left out, row kept
# Customers written again further down: another spelling of the phone, a new city and level, a source
# (sometimes an unknown word), the address and email blank (the earlier values stay).
REPEATED = tuple(range(5, 1200, 50))  # 24 rows
BLANK_AFTER = 600  # a blank row in the middle, after this index


def phone_of(i: int) -> str:
    return f"139{i:08d}"


def written_phone(i: int) -> str:
    """The phone as the export writes it: +86, spaces, dashes, or plain."""
    p = phone_of(i)
    return (f"+86 {p[:3]}-{p[3:7]}-{p[7:]}", f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}", p)[
        i % 4
    ]


def company_of(i: int) -> str:
    place = PLACES[i % len(PLACES)][1]
    # (i % 32, i // 32) differs for every i below 32 * 39 = 1,248: every company has its own name.
    first, second = FIRST[i % len(FIRST)], SECOND[(i // len(FIRST)) % len(SECOND)]
    return f"{place}{first}{second}{FIRST[(i * 7) % len(FIRST)]}{INDUSTRY[i % 3]}"


@dataclass
class Row:
    line: int  # 1-based line of the file
    cells: list[str]
    index: int | None = None  # customer index, None for title/blank/totals
    skip: str = ""  # why the importer must skip it ("phone", "name"), else ""
    repeat: bool = False


@dataclass
class MessyExport:
    rows: list[Row] = field(default_factory=list)

    # --- what the generator put in --------------------------------------------------------------------
    def data_rows(self) -> list[Row]:
        return [r for r in self.rows if r.index is not None]

    @property
    def header_line(self) -> int:
        return next(r.line for r in self.rows if r.cells == HEADER)

    @property
    def ignored(self) -> int:
        """Blank and totals lines below the header."""
        return sum(1 for r in self.rows if r.line > self.header_line and r.index is None)

    def bad_rows(self) -> list[Row]:
        return [r for r in self.data_rows() if r.skip]

    def unknown_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(UNKNOWN_SOURCES, 0)
        for r in self.data_rows():
            if r.cells[SOURCE] in counts:
                counts[r.cells[SOURCE]] += 1
        return counts

    def expected(self, unknown_mapped: bool) -> dict[str, int]:
        """The preview's counts: rows, create, update (none: a new workspace), merge, skip, ignored, warn.
        Before the unknown source words are mapped, their rows are skipped too."""
        seen: set[int] = set()
        owners: set[str] = set()
        create = merge = skip = warn = 0
        for r in self.data_rows():
            if r.skip or (not unknown_mapped and r.cells[SOURCE] in UNKNOWN_SOURCES):
                skip += 1
                continue
            assert r.index is not None
            warn += r.cells[EMAIL] in BAD_EMAILS.values()
            owners.add(r.cells[OWNER])  # said once per name that is no colleague
            if r.index in seen:
                merge += 1
            else:
                seen.add(r.index)
                create += 1
        return {
            "rows": len(self.data_rows()),
            "create": create,
            "update": 0,
            "merge": merge,
            "skip": skip,
            "ignored": self.ignored,
            "warn": warn + len(owners - {""}),
        }

    def final_sources(self) -> dict[str, str]:
        """Normalised phone -> the source word the customer ends with (the later non-empty one wins)."""
        out: dict[str, str] = {}
        for r in self.data_rows():
            if r.skip:
                continue
            assert r.index is not None
            if r.cells[SOURCE] or phone_of(r.index) not in out:
                out[phone_of(r.index)] = r.cells[SOURCE]
        return out

    def final_city(self, i: int) -> str:
        return [r.cells[CITY] for r in self.data_rows() if r.index == i and r.cells[CITY]][-1]

    def csv_bytes(self) -> bytes:
        out = io.StringIO()
        csv.writer(out).writerows(r.cells for r in self.rows)
        return out.getvalue().encode("gbk")


def build(n: int = N) -> MessyExport:
    export = MessyExport()

    def add(cells: list[str], **kw: object) -> None:
        export.rows.append(Row(line=len(export.rows) + 1, cells=cells, **kw))  # type: ignore[arg-type]

    add([TITLE])
    add([])
    add(list(HEADER))
    for i in range(n):
        province, city = PLACES[i % len(PLACES)]
        source = SOURCE_CYCLE[i % len(SOURCE_CYCLE)]
        phone, name, email, skip = written_phone(i), company_of(i), f"sales{i}@{'abcdefg'[i % 7]}corp.cn", ""
        if i in BAD_PHONES:
            phone, skip = BAD_PHONES[i], "phone"
        if i in NO_NAME:
            name, skip = "", "name"
        if i in BAD_EMAILS:
            email = BAD_EMAILS[i]
        if skip or i in BAD_EMAILS:
            source = "展会"  # broken rows carry a known word: each row has one reason to be looked at
        created = ("2024/3/5", "2023-11-20 10:20:00", "2025年1月8日", "20240612")[i % 4]
        add(
            [
                name,
                "王李张刘陈杨赵黄周吴"[i % 10] + ("经理", "总", "工", "主任")[i % 4],
                phone,
                email,
                province,
                city,
                f"{city}市高新区科技路{i + 1}号",
                ("A级", "B级", "C级")[i % 3],
                source,
                ("张三", "李四", "王五")[i % 3],
                created,
            ],
            index=i,
            skip=skip,
        )
        if i == BLANK_AFTER:
            add([""] * len(HEADER))
    for k, i in enumerate(REPEATED):
        p = phone_of(i)
        cells = [""] * len(HEADER)
        cells[NAME] = company_of(i)
        cells[PHONE] = f"+86-{p}" if k % 2 else f"0086 {p[:3]} {p[3:]}"
        cells[CITY] = "无锡"
        cells[LEVEL] = "VIP"
        cells[SOURCE] = ("老客户介绍", "", "展会", "电话开发")[k % 4]
        add(cells, index=i, repeat=True)
    add(["合计", "", "", "", "", "", "", "", "", "", f"共 {n + len(REPEATED)} 条"])
    return export
