"""The hand-over sheet: one printable page per person, the only thing the flagger keeps of her case.

It says, in English, Traditional and Simplified Chinese, what the case is (hashes of pictures of her, sent
by someone who found them, never the pictures), her case number and secret, what she can do (follow it,
claim it with a secret of her own, withdraw it), how to withdraw, and where to get help (the operator's
"Getting help" services, as the portal lists them). A standalone HTML file: no script, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from redline.help_services import HelpService


@dataclass(frozen=True)
class SheetTexts:
    lang: str
    heading: str
    what: str
    case_label: str
    key_label: str
    can_do: str
    do_items: tuple[str, ...]
    withdraw_heading: str
    withdraw: str
    help_heading: str
    keep_safe: str


TEXTS = (
    SheetTexts(
        lang="en",
        heading="Your case: someone found pictures of you and asked for them to be blocked",
        what=(
            "A person or organisation who found pictures of you (possibly made or edited without your "
            "consent, for example with AI) turned them into hashes — short fingerprints — on their own "
            "computer, and sent only those fingerprints to {portal}. The pictures were not sent and nobody "
            "there has seen them. Platforms that work with this service compare uploads against the "
            "fingerprints, so copies can be stopped. Nothing was sent with your name."
        ),
        case_label="Case number",
        key_label="Secret (as handed over)",
        can_do="What you can do",
        do_items=(
            "Follow the case: open {portal}/#case and type the case number and the secret.",
            "Claim it: on that page choose “Claim this case”. You get a new secret that only you know; "
            "the secret on this sheet stops working, and from then on only you can see or withdraw the case.",
            "Do nothing: the case stays active; the person who handed you this sheet can still withdraw it "
            "until you claim it.",
        ),
        withdraw_heading="How to withdraw",
        withdraw=(
            "Open the case as above and choose “Withdraw”. Every fingerprint stops matching at once, "
            "everywhere. If you cannot use the page, ask the service's operator to withdraw it for you; "
            "they record that you asked."
        ),
        help_heading="Where to get help",
        keep_safe=(
            "Keep this sheet somewhere private. Anyone holding it can open the case until you claim it."
        ),
    ),
    SheetTexts(
        lang="zh-Hant",
        heading="你的個案：有人發現了你的圖片，並要求封鎖它們",
        what=(
            "一位發現你的圖片（可能是未經你同意而製作或修改的，例"
            "如用 AI）的人士或機構，在他們自己的電腦上把圖片轉成"
            "雜湊值（簡短的「指紋」），只把這些指紋傳送到 {port"
            "al}。圖片沒有被傳送，那裏也沒有人看過。與本服務合作的"
            "平台會把上載內容與指紋比對，從而阻止副本流傳。傳送的資料不包括你的名字。"
        ),
        case_label="個案編號",
        key_label="密碼（交給你時的）",
        can_do="你可以做甚麼",
        do_items=(
            "查看個案：打開 {portal}/#case，輸入個案編號和密碼。",
            "認領個案：在該頁選擇「認領此個案」。你會得到一個只有你知道的新密碼；本頁上的密碼隨即失效，"
            "此後只有你能查看或撤回個案。",
            "甚麼都不做：個案維持有效；在你認領之前，交給你這張紙的人仍可撤回它。",
        ),
        withdraw_heading="如何撤回",
        withdraw=(
            "按上述方法打開個案，選擇「撤回」。所有指紋會即時在所有地方停止比對。"
            "如你無法使用該頁，可請服務營運者代為撤回；他們會記錄是你提出的要求。"
        ),
        help_heading="求助途徑",
        keep_safe="請把這張紙放在私密的地方。在你認領之前，任何持有它的人都能打開個案。",
    ),
    SheetTexts(
        lang="zh-Hans",
        heading="你的个案：有人发现了你的图片，并要求屏蔽它们",
        what=(
            "一位发现你的图片（可能是未经你同意而制作或修改的，例"
            "如用 AI）的人士或机构，在他们自己的电脑上把图片转成"
            "哈希值（简短的“指纹”），只把这些指纹发送到 {port"
            "al}。图片没有被发送，那里也没有人看过。与本服务合作的"
            "平台会把上传内容与指纹比对，从而阻止副本传播。发送的数据不包括你的名字。"
        ),
        case_label="个案编号",
        key_label="密码（交给你时的）",
        can_do="你可以做什么",
        do_items=(
            "查看个案：打开 {portal}/#case，输入个案编号和密码。",
            "认领个案：在该页选择“认领此个案”。你会得到一个只有你知道的新密码；本页上的密码随即失效，"
            "此后只有你能查看或撤回个案。",
            "什么都不做：个案保持有效；在你认领之前，把这张纸交给你的人仍可撤回它。",
        ),
        withdraw_heading="如何撤回",
        withdraw=(
            "按上述方法打开个案，选择“撤回”。所有指纹会立即在所有地方停止比对。"
            "如你无法使用该页，可请服务运营者代为撤回；他们会记录是你提出的请求。"
        ),
        help_heading="求助途径",
        keep_safe="请把这张纸放在私密的地方。在你认领之前，任何持有它的人都能打开个案。",
    ),
)
#: The help-services catalog each sheet language reads (the portal's names), English as the fallback.
_SERVICES_LANG = {"en": "en", "zh-Hant": "zh-Hant-HK", "zh-Hans": "zh-Hans"}

_STYLE = """
body{font:12pt/1.45 system-ui,"Noto Sans CJK TC","Noto Sans CJK SC",sans-serif;max-width:46em;
margin:1.5em auto;padding:0 1em;color:#111}
h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.1em}
section{border-top:2px solid #555;padding-top:.4em;margin-top:1.4em;page-break-inside:avoid}
.credentials{font:1.15em/1.6 ui-monospace,monospace;border:1px solid #333;padding:.5em .8em;
display:inline-block}
.for{color:#444}
@media print{section{page-break-before:always}section:first-of-type{page-break-before:auto}}
"""


def _services_html(services: list[HelpService]) -> str:
    items = []
    for s in services:
        parts = [f"<strong>{escape(s.name)}</strong>"]
        if s.description:
            parts.append(escape(s.description))
        if s.phone:
            parts.append(f"☎ {escape(s.phone)}")
        if s.url:
            parts.append(escape(s.url))
        items.append("<li>" + " — ".join(parts) + "</li>")
    return "<ul>" + "".join(items) + "</ul>"


def sheet_html(
    *, case_id: str, secret: str, portal: str, services: dict[str, list[HelpService]], prepared_for: str = ""
) -> str:
    """The whole page. ``prepared_for`` (the flagger's local label) is printed only on her own copy's top
    line, so she hands the right sheet to the right person; it is never sent anywhere."""
    portal = portal.rstrip("/")
    sections = []
    for t in TEXTS:
        listed = services.get(_SERVICES_LANG[t.lang]) or services.get("en") or []
        do_items = "".join(f"<li>{escape(item.format(portal=portal))}</li>" for item in t.do_items)
        sections.append(
            f'<section lang="{t.lang}">'
            f"<h1>{escape(t.heading)}</h1>"
            f"<p>{escape(t.what.format(portal=portal))}</p>"
            f'<p class="credentials">{escape(t.case_label)}: <span data-testid="case-id">{escape(case_id)}'
            f"</span><br>{escape(t.key_label)}: <span>{escape(secret)}</span></p>"
            f"<h2>{escape(t.can_do)}</h2><ol>{do_items}</ol>"
            f"<h2>{escape(t.withdraw_heading)}</h2><p>{escape(t.withdraw)}</p>"
            f"<h2>{escape(t.help_heading)}</h2>{_services_html(listed)}"
            f"<p><strong>{escape(t.keep_safe)}</strong></p>"
            "</section>"
        )
    top = f'<p class="for">{escape(prepared_for)}</p>' if prepared_for else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(TEXTS[0].case_label)} {escape(case_id)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{top}{''.join(sections)}</main></body></html>\n"
    )
