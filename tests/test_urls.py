"""URL values: pre-processing, kinds of reference, template expressions, parsing, hosts."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewriter.web import urls
from rewriter.web.urls import (
    HostError,
    HttpUrl,
    RefKind,
    UrlError,
    clean_url_value,
    find_template_expression,
    normalize_host,
    parse_http_url,
    reference_kind,
    url_host_to_ascii,
)

# --- clean_url_value ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ("http://example.com/", "http://example.com/"),
        ("  http://example.com/  ", "http://example.com/"),
        ("\x00\x1f http://example.com/\x01\x20", "http://example.com/"),
        ("java\tscript:alert(1)", "javascript:alert(1)"),
        ("java\nscr\ript:x", "javascript:x"),
        ("http://exa\tmple.com/a\nb", "http://example.com/ab"),
        ("\t\n\r", ""),
        ("http://x/a b", "http://x/a b"),  # inner spaces stay (the parser encodes them)
        ("http://x/\x0b", "http://x/"),  # trailing C0 control
        ("http://x/\x7f", "http://x/\x7f"),  # DEL is not a C0 control
        ("\u00a0http://x/", "\u00a0http://x/"),  # nor is a no-break space
        ("", ""),
    ],
)
def test_clean_url_value(value: str, cleaned: str) -> None:
    assert clean_url_value(value) == cleaned


# --- reference_kind ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cleaned", "kind", "scheme"),
    [
        ("", RefKind.EMPTY, None),
        ("#", RefKind.FRAGMENT, None),
        ("#top", RefKind.FRAGMENT, None),
        ("/path", RefKind.RELATIVE, None),
        ("path/file.html", RefKind.RELATIVE, None),
        ("?q=1", RefKind.RELATIVE, None),
        ("/", RefKind.RELATIVE, None),
        ("\\", RefKind.RELATIVE, None),
        ("./a:b", RefKind.RELATIVE, None),
        ("1http://x", RefKind.RELATIVE, None),  # a scheme starts with a letter
        ("{{url}}", RefKind.RELATIVE, None),
        ("//cdn.example.com/x", RefKind.PROTOCOL_RELATIVE, None),
        ("\\\\cdn.example.com", RefKind.PROTOCOL_RELATIVE, None),
        ("/\\cdn.example.com", RefKind.PROTOCOL_RELATIVE, None),
        ("\\/cdn.example.com", RefKind.PROTOCOL_RELATIVE, None),
        ("http://x", RefKind.HTTP, "http"),
        ("https://x", RefKind.HTTP, "https"),
        ("HTTPS://X", RefKind.HTTP, "https"),
        ("hTTp:x", RefKind.HTTP, "http"),
        ("mailto:a@example.com", RefKind.OTHER_SCHEME, "mailto"),
        ("tel:+1", RefKind.OTHER_SCHEME, "tel"),
        ("JavaScript:alert(1)", RefKind.OTHER_SCHEME, "javascript"),
        ("git+ssh://x", RefKind.OTHER_SCHEME, "git+ssh"),
        ("a.b-c+d:x", RefKind.OTHER_SCHEME, "a.b-c+d"),
        ("httpx://x", RefKind.OTHER_SCHEME, "httpx"),
        ("c:\\windows", RefKind.OTHER_SCHEME, "c"),  # as the URL standard reads it
        ("data:text/html,x", RefKind.OTHER_SCHEME, "data"),
    ],
)
def test_reference_kind(cleaned: str, kind: RefKind, scheme: str | None) -> None:
    assert reference_kind(cleaned) == (kind, scheme)


def test_reference_kind_after_cleaning() -> None:
    assert reference_kind(clean_url_value(" java\tscript:x")) == (
        RefKind.OTHER_SCHEME,
        "javascript",
    )


# --- find_template_expression ------------------------------------------------------------------

TEMPLATE_CASES = [
    # (value, the expression found, or None)
    # from ../shared/corpus (Open Collective, Postmark, Go and FreeMarker templates)
    ("{{action_url}}", "{{action_url}}"),
    ("https://opencollective.com/{{collective.slug}}", "{{collective.slug}}"),
    (
        "{{config.host.website}}/dashboard/{{collective.slug}}/platform-subscription"
        "?ExpenseId={{expense.id}}",
        "{{config.host.website}}",
    ),
    ("{{{loginLink}}}", "{{{loginLink}}}"),
    ("\\{{support_url}}", "{{support_url}}"),
    ("{{ .VerificationURL }}", "{{ .VerificationURL }}"),
    ("{{permalink expense}}?edit=1", "{{permalink expense}}"),
    ("{{dashboardUrl host 'host-applications'}}", "{{dashboardUrl host 'host-applications'}}"),
    ("${verifyUrl}", "${verifyUrl}"),
    ("mailto:{{support_email}}", "{{support_email}}"),
    (
        "{{config.host.website}}/member-invitations#invitation-{{invitation.id}}",
        "{{config.host.website}}",
    ),
    # the other template languages
    ("https://x.com/{% if a %}b{% endif %}", "{% if a %}"),
    ("https://x.com/?n={# note #}", "{# note #}"),
    ("https://x.com/?e=*|EMAIL|*", "*|EMAIL|*"),
    ("*|UNSUB|*", "*|UNSUB|*"),
    ("https://x.com/?id=%%SubscriberKey%%", "%%SubscriberKey%%"),
    ("%%=RedirectTo(@url)=%%", "%%=RedirectTo(@url)=%%"),
    ("%%[ SET @u = 'x' ]%%", "%%[ SET @u = 'x' ]%%"),
    ("https://x.com/${user.id}/", "${user.id}"),
    ("https://x.com/#{user.id}", "#{user.id}"),
    ("https://x.com/?u=$user", "$user"),
    ("https://x.com/?u=$!lead.Id", "$!lead"),
    ("https://x.com/?c={!Contact.Id}", "{!Contact.Id}"),
    ("https://x.com/<%= product_url %>", "<%= product_url %>"),
    ("<#if a>https://x.com</#if>", "<#if a>"),
    ("<@ofbizUrl>main</@ofbizUrl>", "<@ofbizUrl>"),
    ("https://x.com/?from=[Sender_Name]", "[Sender_Name]"),
    ("[Product Name]", "[Product Name]"),
    ("https://x.com/[unsubscribe]", "[unsubscribe]"),
    ("[[UNSUB_LINK_EN]]", "[[UNSUB_LINK_EN]]"),
    ("https://x.com/?n=[[var:name]]", "[[var:name]]"),
    ("https://x.com/?e={contactfield=email}", "{contactfield=email}"),
    ("{unsubscribe_url}", "{unsubscribe_url}"),
    ("https://x.com/users/{id}", "{id}"),
    # merge tags mangled by an earlier tool (percent-encoded braces, any case)
    ("https://x.com/%7B%7Bname%7D%7D", "%7B%7B"),
    ("https://x.com/%7b%7bname%7d%7d", "%7b%7b"),
    ("https://x.com/?q=%7B%25%20if%20x%20%25%7D", "%7B%25"),
    ("https://x.com/?q=%24%7Bname%7D", "%24%7B"),
    ("https://x.com/?e=*%7CEMAIL%7C*", "*%7C"),
    # an opening delimiter with no closing one still counts (to the end of the value)
    ("https://x.com/{{name", "{{name"),
    ("https://x.com/?a=%%x", "%%x"),
    # the first expression, whatever its kind
    ("https://x.com/${a}/{{b}}", "${a}"),
    ("https://x.com/#{{id}}", "{{id}}"),  # `#{{` is Handlebars after a `#`, not `#{`
    ("https://x.com/${{ secrets.X }}", "{{ secrets.X }}"),
    # not template expressions
    ("https://example.com/", None),
    ("http://[::1]/", None),
    ("http://[2001:db8::1]:8080/path", None),
    ("http://[fe80::1]/", None),
    ("http://[::ffff:192.0.2.1]/", None),
    ("https://x.com/?filter[color]=red", None),
    ("https://x.com/?a[]=1&a[]=2", None),
    ("https://x.com/?items[0][name]=x", None),
    ("https://x.com/?f[a][b]=1", None),
    ("https://x.com/?q=spring%20sale&utm_campaign=a%2Fb", None),
    ("https://x.com/?price=$5", None),
    ("https://x.com/$", None),
    ("https://x.com/a*b", None),
    ("https://x.com/*", None),
    ("https://x.com/?q=100%", None),
    ("https://x.com/%7Efred", None),
    ("https://x.com/?q=%7B", None),
    ('https://x.com/?json={"a":1}', None),
    ("https://x.com/a|b", None),
    ("https://x.com/?a=<b>", None),
    ("https://fonts.googleapis.com/css2?family=Inter:wght@400;500;600;700&display=swap", None),
    ("mailto:support@opencollective.com?Subject=Payment%20issue", None),
    ("#", None),
    ("", None),
]


@pytest.mark.parametrize(("value", "expression"), TEMPLATE_CASES)
def test_find_template_expression(value: str, expression: str | None) -> None:
    assert find_template_expression(value) == expression


@pytest.mark.parametrize(
    "value",
    [
        "{{" * 100_000,
        "{%" * 100_000,
        "[a" * 100_000,
        "[a " * 100_000,
        "[[a" * 100_000,
        "{a=" * 100_000,
        "x[" * 100_000,
        "<%" * 100_000,
        "$" * 200_000,
    ],
)
def test_find_template_expression_stays_linear(value: str) -> None:
    # A quadratic search would take minutes on these; a linear one, milliseconds.
    find_template_expression(value)


# --- parse_http_url ----------------------------------------------------------------------------

PARSE_CASES = [
    # (value, href, host, port, path, query, fragment)
    ("http://example.com", "http://example.com/", "example.com", None, "/", "", ""),
    (
        "HTTPS://EXAMPLE.COM:443/A?B#C",
        "https://example.com/A?B#C",
        "example.com",
        None,
        "/A",
        "B",
        "C",
    ),
    ("http://example.com:8080/", "http://example.com:8080/", "example.com", 8080, "/", "", ""),
    ("http://example.com:0080/", "http://example.com/", "example.com", None, "/", "", ""),
    ("https://x.com/a/../b/./c", "https://x.com/b/c", "x.com", None, "/b/c", "", ""),
    ("https://x.com/?", "https://x.com/?", "x.com", None, "/", "", ""),
    ("https://x.com/#", "https://x.com/#", "x.com", None, "/", "", ""),
    ("https://x.com/?a=1&b=2#f", "https://x.com/?a=1&b=2#f", "x.com", None, "/", "a=1&b=2", "f"),
    (
        "https://x.com/a b?c d#e f",
        "https://x.com/a%20b?c%20d#e%20f",
        "x.com",
        None,
        "/a%20b",
        "c%20d",
        "e%20f",
    ),
    (
        "https://x.com/?q='\"<>",
        "https://x.com/?q=%27%22%3C%3E",
        "x.com",
        None,
        "/",
        "q=%27%22%3C%3E",
        "",
    ),
    (
        "https://x.com/é?é#é",
        "https://x.com/%C3%A9?%C3%A9#%C3%A9",
        "x.com",
        None,
        "/%C3%A9",
        "%C3%A9",
        "%C3%A9",
    ),
    ("  https://x.com/\n", "https://x.com/", "x.com", None, "/", "", ""),
    ("ht\ttp://x.com/", "http://x.com/", "x.com", None, "/", "", ""),
    ("http:example.com/a", "http://example.com/a", "example.com", None, "/a", "", ""),
    ("http:\\\\example.com\\a", "http://example.com/a", "example.com", None, "/a", "", ""),
    ("https://faß.de/", "https://xn--fa-hia.de/", "xn--fa-hia.de", None, "/", "", ""),
    (
        "https://BÜCHER.example/",
        "https://xn--bcher-kva.example/",
        "xn--bcher-kva.example",
        None,
        "/",
        "",
        "",
    ),
    ("https://ＥＸＡＭＰＬＥ.com/", "https://example.com/", "example.com", None, "/", "", ""),
    ("https://example.com./", "https://example.com./", "example.com.", None, "/", "", ""),
    ("https://%41.com/", "https://a.com/", "a.com", None, "/", "", ""),
    ("http://[::1]/", "http://[::1]/", "[::1]", None, "/", "", ""),
    (
        "http://[2001:DB8::1]:8080/",
        "http://[2001:db8::1]:8080/",
        "[2001:db8::1]",
        8080,
        "/",
        "",
        "",
    ),
    ("http://0x7f.1/", "http://127.0.0.1/", "127.0.0.1", None, "/", "", ""),
    ("http://user:pw@x.com/", "http://user:pw@x.com/", "x.com", None, "/", "", ""),
    # `@` and backslash tricks: the host is what the browser would contact
    (
        "https://user:pass@evil.com@good.com/",
        "https://user:pass%40evil.com@good.com/",
        "good.com",
        None,
        "/",
        "",
        "",
    ),
    (
        "http://good.com\\@evil.com/",
        "http://good.com/@evil.com/",
        "good.com",
        None,
        "/@evil.com/",
        "",
        "",
    ),
    (
        "http://evil.com\\.good.com",
        "http://evil.com/.good.com",
        "evil.com",
        None,
        "/.good.com",
        "",
        "",
    ),
    ("http://x/" + "\ud800", "http://x/%EF%BF%BD", "x", None, "/%EF%BF%BD", "", ""),
]


@pytest.mark.parametrize(
    ("value", "href", "host", "port", "path", "query", "fragment"), PARSE_CASES
)
def test_parse_http_url(
    value: str, href: str, host: str, port: int | None, path: str, query: str, fragment: str
) -> None:
    scheme = href.partition(":")[0]
    assert parse_http_url(value) == HttpUrl(href, scheme, host, port, path, query, fragment)


INVALID_CASES = [
    # (value, the reason given)
    ("", "empty URL"),
    ("   ", "empty URL"),
    ("mailto:a@example.com", "not an http(s) URL (scheme mailto:)"),
    ("java\tscript:alert(1)", "not an http(s) URL (scheme javascript:)"),
    ("//example.com/", "not an absolute URL (protocol-relative)"),
    ("/path", "not an absolute URL (relative)"),
    ("#top", "not an absolute URL (fragment)"),
    ("{{url}}", "not an absolute URL (relative)"),
    ("https://", "no host"),
    ("http://@/", "no host after '@'"),
    ("http://user@/", "no host after '@'"),
    ("http://user:pw@:80/", "no host"),
    ("http://exa mple.com/", "space in host 'exa mple.com'"),
    ("http://exa%20mple.com/", "space in host 'exa%20mple.com'"),
    ("http://a<b.com/", "forbidden character '<' in host 'a<b.com'"),
    ("http://a|b/", "forbidden character '|' in host 'a|b'"),
    ("http://ex%2Fample.com/", "forbidden character '/' in host 'ex%2Fample.com'"),
    ("http://%zz.com/", "forbidden character '%' in host '%zz.com'"),
    ("http://a\x00b/", "forbidden character '\\x00' in host 'a\\x00b'"),
    ("http://x:99999/", "invalid port '99999'"),
    ("http://x:" + "9" * 5000 + "/", "invalid port '" + "9" * 59 + "'…"),  # reasons stay short
    ("http://exa mple.com:/", "space in host 'exa mple.com'"),  # an empty port is allowed
    ("x" * 100 + ":y", "not an http(s) URL (scheme " + "x" * 59 + "…:)"),
    ("http://x:-1/", "invalid port '-1'"),
    ("http://x:8o/", "invalid port '8o'"),
    ("http://[::1]:x/", "invalid port 'x'"),
    ("http://[::1/", "invalid IPv6 address '[::1'"),
    ("http://[1::2::3]/", "invalid IPv6 address '[1::2::3]'"),
    ("http://[::1]x/", "invalid IPv6 address '[::1]x'"),
    ("http://1.2.3.4.5/", "invalid IPv4 address '1.2.3.4.5'"),
    ("http://256.1.1.1/", "invalid IPv4 address '256.1.1.1'"),
    ("http://0x100000000/", "invalid IPv4 address '0x100000000'"),
    ("http://xn--a.com/", "invalid internationalised host name 'xn--a.com'"),
    ("http://XN--A.com/", "invalid internationalised host name 'XN--A.com'"),
    ("http://\u200d.com/", "invalid internationalised host name '\\u200d.com'"),  # repr shows it
    ("http://a.b.c.xn--pokxncvks/", "invalid internationalised host name 'a.b.c.xn--pokxncvks'"),
]


@pytest.mark.parametrize(("value", "reason"), INVALID_CASES)
def test_parse_http_url_refuses(value: str, reason: str) -> None:
    with pytest.raises(UrlError) as caught:
        parse_http_url(value)
    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)


def test_http_url_is_frozen() -> None:
    url = parse_http_url("https://x.com/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        url.host = "evil.com"  # type: ignore[misc]


# --- the query under the document's encoding ---------------------------------------------------

ENCODING_CASES = [
    # (value, encoding, href)
    ("http://x/é?q=é", "windows-1252", "http://x/%C3%A9?q=%E9"),
    ("http://x/é?q=é", "cp1252", "http://x/%C3%A9?q=%E9"),
    ("http://x/é?q=é#é", "windows-1252", "http://x/%C3%A9?q=%E9#%C3%A9"),  # fragment: UTF-8
    ("http://x/?q=€", "iso-8859-1", "http://x/?q=%80"),  # the label means windows-1252
    ("http://x/?q=€", "latin-1", "http://x/?q=%80"),
    ("http://x/?q=€", "us-ascii", "http://x/?q=%80"),
    ("http://x/?q=ş", "iso-8859-9", "http://x/?q=%FE"),
    ("http://x/?q=ł", "iso-8859-2", "http://x/?q=%B3"),
    ("http://x/?q=日本", "shift_jis", "http://x/?q=%93%FA%96{"),  # 0x7B is `{`, left as is
    ("http://x/?q=①", "shift_jis", "http://x/?q=%87@"),  # a Windows-31J extension
    ("http://x/?q=日", "windows-1252", "http://x/?q=%26%2326085%3B"),  # not representable
    ("http://x/?q=😀", "iso-8859-2", "http://x/?q=%26%23128512%3B"),
    ("http://x/?q=é&#233;", "windows-1252", "http://x/?q=%E9&#233;"),  # `#` starts the fragment
    ("http://x/?q=é&%23233%3B", "windows-1252", "http://x/?q=%E9&%23233%3B"),
    ("http://x/?q=é%E9", "windows-1252", "http://x/?q=%E9%E9"),  # existing escapes stay
    ("http://x/?q=é 'a'", "windows-1252", "http://x/?q=%E9%20%27a%27"),
    ("http://x/??é", "windows-1252", "http://x/??%E9"),
    ("http://x/#?é", "windows-1252", "http://x/#?%C3%A9"),  # a `?` in the fragment
    ("http://x/?q=é", "utf-8", "http://x/?q=%C3%A9"),
    ("http://x/?q=é", "UTF8", "http://x/?q=%C3%A9"),
    ("http://x/?q=é", "utf-16", "http://x/?q=%C3%A9"),  # UTF-16 documents use UTF-8
    ("http://x/?q=é", "utf-16-le", "http://x/?q=%C3%A9"),
    ("http://x/?q=a", "windows-1252", "http://x/?q=a"),
]


@pytest.mark.parametrize(("value", "encoding", "href"), ENCODING_CASES)
def test_query_follows_the_document_encoding(value: str, encoding: str, href: str) -> None:
    url = parse_http_url(value, encoding)
    assert url.href == href
    before_fragment, _, fragment = href.partition("#")
    assert (url.query, url.fragment) == (before_fragment.partition("?")[2], fragment)


def test_query_encoding_keeps_the_other_fields() -> None:
    url = parse_http_url("https://bücher.example:8443/é?q=é&r=ü#frag", "windows-1252")
    assert url == HttpUrl(
        href="https://xn--bcher-kva.example:8443/%C3%A9?q=%E9&r=%FC#frag",
        scheme="https",
        host="xn--bcher-kva.example",
        port=8443,
        path="/%C3%A9",
        query="q=%E9&r=%FC",
        fragment="frag",
    )


def test_unknown_encoding() -> None:
    with pytest.raises(LookupError):
        parse_http_url("http://x/", "no-such-encoding")


@pytest.mark.parametrize("encoding", ["cp037", "utf-32", "utf-7"])
def test_encodings_that_are_not_ascii_compatible_use_utf8(encoding: str) -> None:
    assert parse_http_url("http://x/?q=é", encoding).query == "q=%C3%A9"


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="#\t\n\r")))
def test_query_percent_encoding_matches_ada_in_utf8(query: str) -> None:
    # The re-encoding must treat ASCII exactly as ada does, or non-UTF-8 documents would get
    # different queries for reasons other than the encoding.
    try:
        expected = parse_http_url("http://x/?" + query).query
    except UrlError:
        return
    cleaned_query = clean_url_value("http://x/?" + query).partition("?")[2]
    assert urls._percent_encode_query(cleaned_query, "utf-8") == expected


# --- url_host_to_ascii and normalize_host --------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "ascii_host"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com", "example.com"),
        ("faß.de", "xn--fa-hia.de"),
        ("example.com.", "example.com."),
        ("[::1]", "[::1]"),
        ("[2001:DB8::]", "[2001:db8::]"),
        ("0x7f.1", "127.0.0.1"),
        ("%41.com", "a.com"),
        ("xn--a", None),
        ("", None),
        ("a b", None),
        ("a:80", None),  # a port is not part of a host
        ("a/b", None),
        ("a\\b", None),
        ("a?b", None),
        ("a#b", None),
        ("u@a", None),
        ("a\tb", None),  # the URL parser would drop the tab; the host parser refuses it
        (" a", None),
        ("[::1]:80", None),
        ("1.2.3.4.5", None),
    ],
)
def test_url_host_to_ascii(host: str, ascii_host: str | None) -> None:
    assert url_host_to_ascii(host) == ascii_host


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        (" example.com. ", "example.com"),
        ("go_links.example.com", "go_links.example.com"),
        ("faß.de", "xn--fa-hia.de"),
        ("XN--FA-HIA.de", "xn--fa-hia.de"),
    ],
)
def test_normalize_host(host: str, normalized: str) -> None:
    assert normalize_host(host) == normalized


@pytest.mark.parametrize(
    "host", ["", " ", ".", "a b.com", "a/b", "a" * 64 + ".com", "xn--a.com", "☃.net", "a..b"]
)
def test_normalize_host_refuses(host: str) -> None:
    with pytest.raises(HostError):
        normalize_host(host)


# normalize_host (the `idna` package, UTS #46 non-transitional, plus DNS-name checks) against
# ada (the URL standard's host parser). Python's built-in "idna" codec is IDNA 2003 and maps
# faß.de to fass.de; both of these keep the ß.
IDN_CROSS_CHECK = [
    # (host, normalize_host, url_host_to_ascii): None when refused
    ("faß.de", "xn--fa-hia.de", "xn--fa-hia.de"),
    ("FASS.de", "fass.de", "fass.de"),
    ("BÜCHER.example", "xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("münchen.de", "xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
    ("βόλος.com", "xn--nxasmm1c.com", "xn--nxasmm1c.com"),  # final sigma kept
    ("ΒΌΛΟΣ.com", "xn--nxasmq6b.com", "xn--nxasmq6b.com"),  # capital sigma maps to σ
    ("ශ්\u200dරී.lk", "xn--10cl1a0b660p.lk", "xn--10cl1a0b660p.lk"),  # ZWJ kept
    ("نامه\u200cای.ir", "xn--mgba3gch31f060k.ir", "xn--mgba3gch31f060k.ir"),  # ZWNJ kept
    ("日本語.jp", "xn--wgv71a119e.jp", "xn--wgv71a119e.jp"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah", "xn--r8jz45g.xn--zckzah"),
    ("straße。de", "xn--strae-oqa.de", "xn--strae-oqa.de"),  # ideographic full stop
    ("ＥＸＡＭＰＬＥ.com", "example.com", "example.com"),
    ("ⓔⓧⓐⓜⓟⓛⓔ.com", "example.com", "example.com"),
    ("a\u00adb.com", "ab.com", "ab.com"),  # soft hyphen ignored
    ("I\u0307stanbul.tr", "xn--istanbul-o0e.tr", "xn--istanbul-o0e.tr"),
    ("ǅ.com", "xn--d-toa.com", "xn--d-toa.com"),
    ("раураl.com", "xn--l-7sba6dbr.com", "xn--l-7sba6dbr.com"),  # mixed Cyrillic and Latin
    ("pаypal.com", "xn--pypal-4ve.com", "xn--pypal-4ve.com"),  # one Cyrillic а
    ("1.ي", "1.xn--mhb", "1.xn--mhb"),
    ("xn--zca.de", "xn--zca.de", "xn--zca.de"),
    ("Xn--ZCA.de", "xn--zca.de", "xn--zca.de"),
    ("xn--a.com", None, None),  # invalid Punycode
    ("\u200d.com", None, None),  # ZWJ outside its context
    # Disagreements, all expected:
    # - a trailing dot: normalize_host drops it (a DNS name), the URL keeps it.
    ("example.com.", "example.com", "example.com."),
    # - symbols and emoji: valid in UTS #46 (browsers open ☃.net) but not in IDNA 2008, whose
    #   validity rules the `idna` package applies on top of the UTS #46 mapping.
    ("☃.net", None, "xn--n3h.net"),
    ("😀.com", None, "xn--e28h.com"),
    ("≠.com", None, "xn--1ch.com"),
    # - DNS-name rules the URL standard does not apply (VerifyDnsLength is false there).
    ("a" * 64 + ".com", None, "a" * 64 + ".com"),
    ("a..b", None, "a..b"),
    # - a host ending in a number is an IPv4 address to the URL standard.
    ("0x7f.1", "0x7f.1", "127.0.0.1"),
    ("ي.1", "xn--mhb.1", None),
    # - leading hyphens: normalize_host's ASCII path accepts them, as the URL standard does.
    ("-x.com", "-x.com", "-x.com"),
]


@pytest.mark.parametrize(("host", "by_idna", "by_ada"), IDN_CROSS_CHECK)
def test_normalize_host_and_ada_cross_check(
    host: str, by_idna: str | None, by_ada: str | None
) -> None:
    try:
        normalized: str | None = normalize_host(host)
    except HostError:
        normalized = None
    assert (normalized, url_host_to_ascii(host)) == (by_idna, by_ada)


def test_python_builtin_codec_gets_sharp_s_wrong() -> None:
    # The reason the `idna` package and ada are used.
    assert "faß.de".encode("idna") == b"fass.de"
