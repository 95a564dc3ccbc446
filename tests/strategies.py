"""Hypothesis strategies for email-like HTML bytes, the kind the engine meets in the wild.

`email_documents()` draws whole documents: doctype, html/head/body, nested presentation tables
with inline styles, `<a>`, `<area>` and VML links quoted every way in any case, attributes holding
`>` and quotes, no-track markers, old annotations, Outlook conditional comments (`[if mso]`,
`[if mso | IE]`, downlevel-revealed `[if !mso]><!-->`), ordinary comments, raw-text elements with
link-like text inside, template tokens, entities, URLs of every kind, CRLF or LF, a BOM or a
`<meta charset=windows-1252>` (the text is then encoded in cp1252) or now and then UTF-16 with a
BOM, and finally random bytes (invalid UTF-8, NUL, markup fragments) spliced in at random places,
now and then with a run of control bytes (binary-looking data, refused or not depending on its
share of the first 1,024 bytes).

The building blocks (`link_values`, `urls`, ...) are strategies too, for narrower tests. Sizes are
kept small so a property runs hundreds of examples in seconds.
"""

from __future__ import annotations

import codecs
import itertools

from hypothesis import strategies as st

# --- URLs ----------------------------------------------------------------------------------

SCHEMES = ("http", "https", "HTTP", "Https", "hTtP")
HOSTS = (
    "www.example.com",
    "example.com",
    "shop.example.co.uk",
    "WWW.Example.ORG",
    "faß.de",  # UTS #46 non-transitional: stays ß (xn--fa-hia.de)
    "bücher.example",
    "пример.рф",
    "例え.jp",
    "xn--bcher-kva.example",
    "127.0.0.1",
    "0x7f.1",  # IPv4 in hex shorthand
    "[::1]",
    "[2001:db8::1]",
    "go.example.com",  # the tracking domain of tests/cases/rules.yaml
    "GO.EXAMPLE.COM.",
    "click.example.com",  # its legacy tracking domain
    "u123.ct.sendgrid.net",  # a known click tracker
    "eu.list-manage.com",  # a tracker only under /track/click
    "eu.internal.example.com",  # excluded by the rules
    "pages.example.com",  # a host the rules declare facts about
    "a-b.example.dev",  # under a preloaded TLD
    "exa%41mple.com",  # percent-encoded host
)
USERINFO = ("", "user@", "user:pa%20ss@", "a@b@", "evil.example\\@")
PORTS = ("", ":8080", ":80", ":443", ":0")
PATH_SEGMENTS = (
    "",
    "a",
    "path",
    "café",
    "unsubscribe",
    "track",
    "click",
    "dc",
    "l",
    "%7Bx%7D",
    "a b",
    "x\\y",
    "..",
    "ä%20b",
    "index.html",
)
QUERY_PAIRS = (
    "utm_source=newsletter",
    "utm_medium=email",
    "utm_campaign=spring_2026",
    "utm_content=hero%20button",
    "q=a+b",
    "x=1&copy=2",
    "lang=en&amp=1",
    "name=café",
    "a[b]=1",
    "redirect=https%3A%2F%2Fother.example%2F",
    "e=",
    "€=€",
)
FRAGMENTS = ("", "#", "#top", "#sec-2", "#ä")
OTHER_VALUES = (
    "mailto:someone@example.com?subject=Hi&body=Yo",
    "MAILTO:a@b.example",
    "tel:+1-555-0100",
    "sms:+15550100",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:void(0)",
    " javascript:void(0)",
    "data:text/html,<b>x</b>",
    "#",
    "#top",
    "/relative/path?x=1",
    "relative.html",
    "//cdn.example.com/x",
    "\\\\host\\x",
    "",
    " ",
    "http://",
    "https:///x",
    "http://exa mple.com/",
    "http://[::1",
    "http:example.com",
    "ftp://files.example.com/x",
)
TEMPLATE_VALUES = (
    "{{url}}",
    "{{{raw_url}}}",
    "http://{{domain}}/x",
    "https://example.com/?u={{user.id}}",
    "{% url 'home' %}",
    "*|ARCHIVE|*",
    "https://example.com/?e=*|EMAIL|*",
    "%%view_email_url%%",
    "${link}",
    "$unsubscribe",
    "<%= url %>",
    "[Unsubscribe_URL]",
    "https://example.com/%7B%7Bx%7D%7D",
    "{{my.link}}",
    "https://example.com/{% if a %}b{% endif %}",
)
TEMPLATE_TOKENS = (
    "{{x}}",
    "{{{x}}}",
    "{% if user %}",
    "{% endif %}",
    "{{#if a}}",
    "{{/if}}",
    "*|FNAME|*",
    "%%first_name%%",
    "${name}",
    "{# comment #}",
)
ENTITIES = ("&amp;", "&#x26;", "&#38;", "&copy", "&copy;", "&nbsp;", "&lt;", "&gt", "&#0;", "&")
TEXTS = (
    "Hello",
    "Shop now",
    "Café & more",
    "Read the “guide”",
    "50% off €10",
    "a > b",
    "x<y",
    "see http://text.example/ here",
    "",
    " ",
)


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    """An absolute http(s) URL as a person writes it (not yet entity-escaped)."""
    scheme = draw(st.sampled_from(SCHEMES))
    slashes = draw(st.sampled_from(("//", "//", "//", "\\\\", "/\\", "///")))
    host = draw(st.sampled_from(HOSTS))
    segments = draw(st.lists(st.sampled_from(PATH_SEGMENTS), max_size=3))
    path = "".join("/" + segment for segment in segments)
    pairs = draw(st.lists(st.sampled_from(QUERY_PAIRS), max_size=4))
    empty_query: bool = draw(st.booleans())  # `http://x/?` is not `http://x/`
    query = ("?" + "&".join(pairs)) if pairs or empty_query else ""
    return (
        f"{scheme}:{slashes}{draw(st.sampled_from(USERINFO))}{host}{draw(st.sampled_from(PORTS))}"
        f"{path}{query}{draw(st.sampled_from(FRAGMENTS))}"
    )


def urls() -> st.SearchStrategy[str]:
    """Any link value a template holds: mostly http(s), else other schemes and templates."""
    return st.one_of(
        http_urls(),
        http_urls(),
        st.sampled_from(OTHER_VALUES),
        st.sampled_from(TEMPLATE_VALUES),
    )


# --- attribute values ----------------------------------------------------------------------

AMPERSANDS = ("&", "&amp;", "&amp;", "&#38;", "&#x26;", "&AMP;")
# Characters written as references now and then (decoding must see through them).
REFERENCE_FORMS = {
    ":": ("&#58;", "&colon;"),
    "/": ("&#x2F;", "&sol;"),
    "\t": ("&#x09;", "&Tab;", "&#9;"),
    "a": ("&#97;", "&#x61;"),
    "s": ("&#115;",),
    "?": ("&quest;",),
}
UNQUOTED_UNSAFE = "\t\n\f\r \"'<=>`"


@st.composite
def escaped_values(draw: st.DrawFn, value: str) -> tuple[str, str]:
    """(`value` escaped with references as people write them, the quote it goes in)."""
    out = []
    for char in value:
        if char == "&":
            out.append(draw(st.sampled_from(AMPERSANDS)))
        elif char in REFERENCE_FORMS and draw(st.integers(0, 7)) == 0:
            out.append(draw(st.sampled_from(REFERENCE_FORMS[char])))
        else:
            out.append(char)
    text = "".join(out)
    if draw(st.integers(0, 5)) == 0:
        text = draw(st.sampled_from((" ", "\n", "\t"))) + text + draw(st.sampled_from(("", " ")))
    quote = draw(st.sampled_from(('"', '"', "'", "")))
    if quote == "" and (not text or any(char in UNQUOTED_UNSAFE for char in text)):
        quote = '"'
    if quote == '"':
        text = text.replace('"', draw(st.sampled_from(("&quot;", "&#34;"))))
    elif quote == "'":
        text = text.replace("'", draw(st.sampled_from(("&#39;", "&apos;"))))
    return text, quote


@st.composite
def attributes(draw: st.DrawFn, name: str, value: str) -> str:
    """`name=value` with some quoting and spacing around `=`."""
    text, quote = draw(escaped_values(value))
    around = draw(st.sampled_from(("", "", "", " ", "\n")))
    return f"{name}{around}={around}{quote}{text}{quote}"


# --- tags ----------------------------------------------------------------------------------

LINK_TAG_NAMES = (
    "a",
    "a",
    "A",
    "area",
    "AREA",
    "v:roundrect",
    "V:RoundRect",
    "v:rect",
    "v:oval",
    "v:shape",
)
HREF_NAMES = ("href", "href", "HREF", "Href")
OTHER_ATTRIBUTES = (
    'title="a > b"',
    "title='say \"hi\"'",
    'alt="x>y"',
    'style="color:#333;text-decoration:none;"',
    "target=_blank",
    'target="_blank"',
    'class="btn"',
    'class="btn mktNoTrack"',
    'CLASS="untracked"',
    "clicktracking=off",
    "data-pm-no-track",
    "ses:no-track",
    "mc:disable-tracking",
    "data-mautic-disable-tracking",
    'data-msys-clicktrack="0"',
    'autotrack="false"',
    'data-link-security="secure"',
    "DATA-LINK-SECURITY",
    "data-link-security='old'",
    'rel="noopener"',
    "onclick=\"x='<a href=&quot;y&quot;>'\"",
    "name=top",
    'arcsize="10%"',
    'strokecolor="#1e3650" fillcolor="#556270"',
    "/",
    '=odd="x"',
)
SEPARATORS = (" ", " ", " ", "\n", "\n  ", "\t", "  ", "/")


@st.composite
def link_tags(draw: st.DrawFn) -> str:
    """A link start tag, its content and its end tag."""
    name = draw(st.sampled_from(LINK_TAG_NAMES))
    attrs = draw(st.lists(st.sampled_from(OTHER_ATTRIBUTES), max_size=3))
    if draw(st.integers(0, 9)) > 0:
        href = draw(attributes(draw(st.sampled_from(HREF_NAMES)), draw(urls())))
        attrs.insert(draw(st.integers(0, len(attrs))), href)
        if draw(st.integers(0, 7)) == 0:  # a repeated href: the first one counts
            attrs.append(draw(attributes("href", draw(urls()))))
    text = "".join(draw(st.sampled_from(SEPARATORS)) + attr for attr in attrs)
    end = draw(st.sampled_from(("", "", "", "/", " /", "\n")))
    start = f"<{name}{text}{end}>"
    if name.lower() == "area":
        return start
    content = draw(st.sampled_from((*TEXTS, '<img src="http://img.example/x.png" alt="Logo">')))
    if name.lower().startswith("v:"):
        content = f"<w:anchorlock/><center>{content}</center>"
    return f"{start}{content}</{name}>"


NOT_CLICK_TARGETS = (
    '<link href="https://fonts.googleapis.com/css?family=Roboto&amp;display=swap" rel=stylesheet>',
    '<img src="http://img.example/a.png?x=1&amp;y=2" width="600" style="display:block">',
    '<base href="http://base.example/">',
    "<div style=\"background:url('http://bg.example/x.png')\">x</div>",
    '<abbr href="http://abbr.example/">a</abbr>',
    '<button href="http://button.example/">b</button>',
    "<br/>",
    "<p>",
    "</p>",
    "</td>",
    "<?xml version='1.0'?>",
    "<!DOCTYPE x>",
    "</a>",
)
COMMENTS = (
    '<!-- old: <a href="http://commented.example/">x</a> -->',
    "<!---->",
    "<!-->",
    "<!--->",
    "<!-- a -- b --!>",
    "<!-- [if mso]> not conditional -->",
    "<!--[endif]-->",
)
RAW_TEXT = (
    '<style>a[href]{color:red} .x{background:url(http://s.example/a.png)} <a href="http://s/"></style>',
    '<STYLE type="text/css">td{}</STYLE >',
    "<script>var s = '<a href=\"http://script.example/\">';</script>",
    "<title>Offer <a href=http://title.example/> & more</title>",
    '<textarea><a href="http://textarea.example/"></textarea>',
    "<xmp><a href=http://xmp.example/></xmp>",
    '<script></scrip><a href="http://still-script.example/"></script>',
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(
            st.sampled_from(TEXTS) | st.sampled_from(TEMPLATE_TOKENS) | st.sampled_from(ENTITIES),
            min_size=1,
            max_size=3,
        )
    )
    return " ".join(parts)


def leaves() -> st.SearchStrategy[str]:
    return st.one_of(
        link_tags(),
        link_tags(),
        texts(),
        st.sampled_from(NOT_CLICK_TARGETS),
        st.sampled_from(COMMENTS),
        st.sampled_from(RAW_TEXT),
    )


CONDITIONALS = (
    ("<!--[if mso]>", "<![endif]-->"),
    ("<!--[if mso | IE]>", "<![endif]-->"),
    ("<!--[if gte mso 9]>", "<![endif]-->"),
    ("<!--[if !mso]><!-->", "<!--<![endif]-->"),
    ("<!--[if !mso]><!-- -->", "<!--<![endif]-->"),
)
TABLE_STYLES = (
    'style="width:100%;border-collapse:collapse;"',
    "style='max-width:600px'",
    'role="presentation" cellpadding="0" cellspacing="0" border="0"',
    "",
)
TEMPLATE_BLOCKS = (
    ("{% if user %}", "{% endif %}"),
    ("{{#if cta}}", "{{/if}}"),
    ("{{#each items}}", "{{/each}}"),
    ("%%[ IF @x THEN ]%%", "%%[ ENDIF ]%%"),
)


@st.composite
def _wrapped(draw: st.DrawFn, children: st.SearchStrategy[list[str]]) -> str:
    inner = "\n".join(draw(children))
    kind = draw(st.integers(0, 2))
    if kind == 0:
        style = draw(st.sampled_from(TABLE_STYLES))
        td = draw(st.sampled_from(('style="padding:10px;"', 'align="center"', "")))
        return f"<table {style}>\n<tr>\n<td {td}>{inner}</td>\n</tr>\n</table>"
    opener, closer = draw(st.sampled_from(CONDITIONALS if kind == 1 else TEMPLATE_BLOCKS))
    return f"{opener}\n{inner}\n{closer}"


def blocks() -> st.SearchStrategy[str]:
    """Body content: leaves nested in tables, conditional comments and template blocks."""
    return st.recursive(
        leaves(),
        lambda children: _wrapped(st.lists(children, min_size=1, max_size=3)),
        max_leaves=8,
    )


# --- documents -----------------------------------------------------------------------------

DOCTYPES = (
    "<!DOCTYPE html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    "<!doctype HTML>",
)
HTML_OPENERS = (
    "<html>",
    '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:o="urn:schemas-microsoft-com:office:office">',
    '<HTML lang="en">',
)
FRONT_MATTER = ("", "", "", "---\ntitle: Spring\n---\n", "Subject: Hello {{name}}\n\n")
CP1252_LABELS = ("windows-1252", "WINDOWS-1252", "iso-8859-1", "latin1")
SPLICES = (
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"<",
    b">",
    b'"',
    b"'",
    b"=",
    b"<!--",
    b"-->",
    b"<a href=",
    b"<![endif]-->",
    b"\r",
    b"&",
    b"&#",
)


@st.composite
def documents_text(draw: st.DrawFn) -> tuple[str, str | None]:
    """(the document as text with LF newlines, the cp1252 label it declares or None)."""
    body = "\n".join(draw(st.lists(blocks(), max_size=4)))
    if draw(st.integers(0, 4)) == 0:
        return body, None  # a fragment, as a partial template
    label = draw(st.sampled_from(CP1252_LABELS)) if draw(st.integers(0, 3)) == 0 else None
    meta = ""
    if label is not None:
        meta = draw(
            st.sampled_from(
                (
                    f"<meta charset={label}>",
                    f'<meta charset="{label}">',
                    f'<META http-equiv="Content-Type" content="text/html; charset={label}">',
                )
            )
        )
    elif draw(st.booleans()):
        meta = '<meta charset="utf-8">'
    head_extra = draw(st.sampled_from(("", RAW_TEXT[0], RAW_TEXT[3], COMMENTS[0])))
    doctype = draw(st.sampled_from(DOCTYPES)) if draw(st.integers(0, 3)) else ""
    html = (
        f"{draw(st.sampled_from(FRONT_MATTER))}{doctype}\n{draw(st.sampled_from(HTML_OPENERS))}\n"
        f"<head>\n{meta}\n<title>Newsletter</title>\n{head_extra}\n</head>\n"
        f'<body style="margin:0;padding:0;">\n{body}\n</body>\n</html>\n'
    )
    return html, label


@st.composite
def email_documents(draw: st.DrawFn, *, max_splices: int = 3) -> bytes:
    """Email-like HTML bytes; see the module docstring."""
    text, label = draw(documents_text())
    newline = draw(st.sampled_from(("\n", "\n", "\r\n")))
    if newline != "\n":
        text = text.replace("\n", newline)
    if label is not None:
        data = text.encode("cp1252", "xmlcharrefreplace")
    elif draw(st.integers(0, 9)) == 0:  # UTF-16 with a BOM: the engine works on a UTF-8 view
        codec = draw(st.sampled_from(("utf-16-le", "utf-16-be")))
        bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
        data = bom + text.encode(codec, "surrogatepass")
    else:
        data = text.encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 4)) == 0:
            data = codecs.BOM_UTF8 + data
    for _ in range(draw(st.integers(0, max_splices))):
        splice = draw(st.sampled_from(SPLICES) | st.binary(min_size=1, max_size=3))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + splice + data[at:]
    if max_splices and draw(st.integers(0, 15)) == 5:
        data = _with_control_run(draw, data)
    return data


CONTROL_BYTES = (b"\x01", b"\x00", b"\x1f", b"\x08")
BINARY_SAMPLE = 1024  # the bytes the engine judges binary data on (PRESCAN_BYTES)


def _with_control_run(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a run of control bytes somewhere: around the share and the offset at which
    the engine's binary-data verdict changes (its first 1,024 bytes)."""
    run = draw(st.sampled_from(CONTROL_BYTES)) * draw(st.integers(1, 300))
    sample_end = min(len(data), BINARY_SAMPLE)
    at = draw(st.integers(0, len(data)) | st.integers(max(0, sample_end - 150), sample_end))
    return data[:at] + run + data[at:]


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut at random places (empty chunks included); the chunks join back to `data`."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]
