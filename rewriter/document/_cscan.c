/* The compiled skip of the scanner (rewriter/document/scan.py): one function, `skip`, that does
 * exactly what the scanner's skip-until-event pattern does (`_patterns`, `pattern.match(buffer,
 * pos)`), and hands back the event and its offset. Everything else (comments holding links,
 * raw-text elements that are not skipped, link tags, chunk boundaries) stays in Python.
 *
 * The pattern is a possessive repeat of ordered alternatives followed by ordered events: at each
 * position the first alternative that matches is taken and never revisited, so each alternative
 * is a small deterministic function here, tried in the pattern's order. Keep the two in step:
 * tests/test_scanner_agreement.py compares them on every document the tests know.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef const unsigned char *bytes_t;

/* Character classes of the pattern. */
static unsigned char WS[256];        /* [\t\n\f\r ] */
static unsigned char SEP[256];       /* [\t\n\f\r /]: between attributes */
static unsigned char NAME_END[256];  /* [\t\n\f\r />]: ends a tag name */
static unsigned char ATTR_STOP[256]; /* [\t\n\f\r />=]: ends an attribute name */
static unsigned char UNQ_STOP[256];  /* [\t\n\f\r >]: ends an unquoted value */

#define MAX_GLOBS 64

typedef struct {
    bytes_t text; /* lower case; `?` matches any name byte */
    Py_ssize_t size;
    int prefix; /* the glob ended in `*` */
} Glob;

typedef struct {
    bytes_t b;
    Py_ssize_t n;
    const Glob *globs;
    int nglobs;
} Ctx;

static const char *const RAW_NAMES[] = {"script", "style", "textarea", "title", "xmp",
                                        "iframe", "noembed", "noframes", "plaintext"};
#define N_RAW_NAMES 9
/* The raw-text elements the pattern skips whole: in data, style/title/script; in a conditional
 * comment, style only. Indexes into RAW_NAMES. */
static const int SKIPPED_RAW_DATA[] = {1, 3, 0};
static const int SKIPPED_RAW_CONDITIONAL[] = {1};

static PyObject *KIND_COMMENT, *KIND_RAW, *KIND_LINK, *KIND_ENDCOND;

static inline int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static inline int is_letter(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* Whether b[at:] starts with `s` (ASCII case folded when fold). */
static int starts(const Ctx *x, Py_ssize_t at, const char *s, Py_ssize_t len, int fold) {
    if (at < 0 || len > x->n - at) return 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        int c = x->b[at + i];
        if ((fold ? lower(c) : c) != (unsigned char)s[i]) return 0;
    }
    return 1;
}
#define STARTS(x, at, lit) starts((x), (at), (lit), (Py_ssize_t)(sizeof(lit) - 1), 0)

/* The end of the tag-name run [^\t\n\f\r />]* from p. */
static inline Py_ssize_t name_end(const Ctx *x, Py_ssize_t p) {
    while (p < x->n && !NAME_END[x->b[p]]) p++;
    return p;
}

/* Index into RAW_NAMES of the name b[s:e], or -1. The pattern requires a name-ending byte after
 * it, which is there exactly when e < n (the run stops at one or at the end). */
static int raw_index(const Ctx *x, Py_ssize_t s, Py_ssize_t e) {
    if (e >= x->n) return -1;
    for (int i = 0; i < N_RAW_NAMES; i++) {
        Py_ssize_t len = (Py_ssize_t)strlen(RAW_NAMES[i]);
        if (e - s == len && starts(x, s, RAW_NAMES[i], len, 1)) return i;
    }
    return -1;
}

/* Whether the name b[s:e] (followed by a name-ending byte) matches a link-tag glob. The pattern
 * is `literal` or `prefix[^\t\n\f\r />]*+` then a name-ending byte; globs are made only of name
 * bytes (scan.py falls back to the pattern otherwise). */
static int is_link(const Ctx *x, Py_ssize_t s, Py_ssize_t e) {
    if (e >= x->n) return 0;
    for (int g = 0; g < x->nglobs; g++) {
        const Glob *glob = &x->globs[g];
        Py_ssize_t len = e - s;
        if (glob->prefix ? len < glob->size : len != glob->size) continue;
        Py_ssize_t i = 0;
        for (; i < glob->size; i++) {
            int want = glob->text[i];
            if (want != '?' && lower(x->b[s + i]) != want) break;
        }
        if (i == glob->size) return 1;
    }
    return 0;
}

/* `(?:[\t\n\f\r /]++|[^\t\n\f\r />][^\t\n\f\r />=]*+(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+VALUE
 * |(?![\t\n\f\r ]*+=)))*+`: where the attributes end. An iteration that fails (a quote left
 * open) ends them at its start. */
static Py_ssize_t attrs(const Ctx *x, Py_ssize_t p) {
    bytes_t b = x->b;
    Py_ssize_t n = x->n;
    for (;;) {
        if (p >= n) return p;
        int c = b[p];
        if (SEP[c]) {
            do p++;
            while (p < n && SEP[b[p]]);
            continue;
        }
        if (c == '>') return p;
        Py_ssize_t q = p + 1;
        while (q < n && !ATTR_STOP[b[q]]) q++;
        Py_ssize_t r = q;
        while (r < n && WS[b[r]]) r++;
        if (r < n && b[r] == '=') {
            r++;
            while (r < n && WS[b[r]]) r++;
            if (r < n && (b[r] == '"' || b[r] == '\'')) {
                bytes_t close = memchr(b + r + 1, b[r], (size_t)(n - r - 1));
                if (close == NULL) return p;
                p = (close - b) + 1;
            } else {
                while (r < n && !UNQ_STOP[b[r]]) r++;
                p = r;
            }
        } else {
            p = q;
        }
    }
}

/* `ATTRS>` from p: the end of the tag, or -1. */
static Py_ssize_t tag_close(const Ctx *x, Py_ssize_t p) {
    p = attrs(x, p);
    return (p < x->n && x->b[p] == '>') ? p + 1 : -1;
}

/* The first `-->` or `--!>` from p: its end, or -1. */
static Py_ssize_t comment_end(const Ctx *x, Py_ssize_t p) {
    bytes_t b = x->b;
    Py_ssize_t n = x->n;
    while (p < n) {
        bytes_t dash = memchr(b + p, '-', (size_t)(n - p));
        if (dash == NULL) return -1;
        p = dash - b;
        if (p + 2 < n && b[p + 1] == '-') {
            if (b[p + 2] == '>') return p + 3;
            if (p + 3 < n && b[p + 2] == '!' && b[p + 3] == '>') return p + 4;
        }
        p++;
    }
    return -1;
}

/* `--!?>` at p: its end, or -1. */
static Py_ssize_t comment_close(const Ctx *x, Py_ssize_t p) {
    if (STARTS(x, p, "-->")) return p + 3;
    if (STARTS(x, p, "--!>")) return p + 4;
    return -1;
}

/* `<!--(?!\[if)(?:>|->|(?:[^-]++|-(?!-!?>))*+--!?>)` at s. */
static Py_ssize_t comment(const Ctx *x, Py_ssize_t s) {
    if (!STARTS(x, s, "<!--") || STARTS(x, s + 4, "[if")) return -1;
    if (STARTS(x, s + 4, ">")) return s + 5;
    if (STARTS(x, s + 4, "->")) return s + 6;
    return comment_end(x, s + 4);
}

/* `<!--\[if[^\]>]*+\]>`: the end of the opener at s, or -1. */
static Py_ssize_t conditional_opener(const Ctx *x, Py_ssize_t s) {
    if (!STARTS(x, s, "<!--[if")) return -1;
    Py_ssize_t q = s + 7;
    while (q < x->n && x->b[q] != ']' && x->b[q] != '>') q++;
    return STARTS(x, q, "]>") ? q + 2 : -1;
}

/* `(?:<!\[endif\][\t\n\f\r ]*+)?--!?>` at p: its end, or -1. */
static Py_ssize_t endif(const Ctx *x, Py_ssize_t p) {
    if (STARTS(x, p, "<![endif]")) {
        Py_ssize_t r = p + 9;
        while (r < x->n && WS[x->b[r]]) r++;
        Py_ssize_t end = comment_close(x, r);
        if (end >= 0) return end;
    }
    return comment_close(x, p);
}

/* A whole raw-text element skipped by the pattern: `<name` (name followed by a name-ending
 * byte), `ATTRS>`, then text up to (not including) `</name` and a name-ending byte. */
static Py_ssize_t raw_element(const Ctx *x, Py_ssize_t e, int raw) {
    Py_ssize_t p = tag_close(x, e);
    if (p < 0) return -1;
    const char *name = RAW_NAMES[raw];
    Py_ssize_t len = (Py_ssize_t)strlen(name);
    bytes_t b = x->b;
    Py_ssize_t n = x->n;
    while (p < n) {
        bytes_t lt = memchr(b + p, '<', (size_t)(n - p));
        if (lt == NULL) return -1;
        p = lt - b;
        if (p + 2 + len < n && b[p + 1] == '/' && starts(x, p + 2, name, len, 1) &&
            NAME_END[b[p + 2 + len]])
            return p;
        p++;
    }
    return -1;
}

static Py_ssize_t skip_run(const Ctx *x, Py_ssize_t p, int conditional);

/* `<!--\[if[^\]>]*+\]>(?!<!-->)(?:INNER)*+(?:(?:<!\[endif\][\t\n\f\r ]*+)?--!?>|COMMENT)`. */
static Py_ssize_t conditional_block(const Ctx *x, Py_ssize_t s) {
    Py_ssize_t q = conditional_opener(x, s);
    if (q < 0 || STARTS(x, q, "<!-->")) return -1;
    Py_ssize_t e = skip_run(x, q, 1);
    Py_ssize_t end = endif(x, e);
    return end >= 0 ? end : comment(x, e);
}

/* The alternatives that begin with `<`, in the pattern's order: the end of the first that
 * matches at s, or -1. */
static Py_ssize_t markup(const Ctx *x, Py_ssize_t s, int conditional) {
    bytes_t b = x->b;
    Py_ssize_t n = x->n;
    int c = s + 1 < n ? b[s + 1] : -1;
    if (is_letter(c)) {
        /* A start tag that is neither raw text nor a link, or a skipped raw-text element. */
        Py_ssize_t e = name_end(x, s + 1);
        int raw = raw_index(x, s + 1, e);
        if (raw < 0 && !is_link(x, s + 1, e)) return tag_close(x, e);
        const int *skipped = conditional ? SKIPPED_RAW_CONDITIONAL : SKIPPED_RAW_DATA;
        int count = conditional ? 1 : 3;
        for (int i = 0; i < count; i++)
            if (skipped[i] == raw) return raw_element(x, e, raw);
        return -1;
    }
    if (c == '/') {
        int d = s + 2 < n ? b[s + 2] : -1;
        if (is_letter(d)) return tag_close(x, name_end(x, s + 2)); /* an end tag */
        if (d == '>') return s + 3;                                /* `</>` */
        bytes_t gt = memchr(b + s + 2, '>', (size_t)(n - s - 2)); /* a bogus comment */
        return gt == NULL ? -1 : (gt - b) + 1;
    }
    if (c == '!') {
        if (STARTS(x, s, "<!--")) {
            if (conditional) return -1;
            Py_ssize_t end = comment(x, s);
            if (end >= 0) return end;
            Py_ssize_t q = conditional_opener(x, s); /* a downlevel-revealed opener */
            if (q >= 0 && STARTS(x, q, "<!-->")) return q + 5;
            return conditional_block(x, s);
        }
        if (conditional && STARTS(x, s, "<![endif]")) return -1;
        bytes_t gt = memchr(b + s + 2, '>', (size_t)(n - s - 2));
        return gt == NULL ? -1 : (gt - b) + 1;
    }
    if (c == '?') {
        bytes_t gt = memchr(b + s + 2, '>', (size_t)(n - s - 2));
        return gt == NULL ? -1 : (gt - b) + 1;
    }
    return s + 1; /* `<(?![A-Za-z!/?])`, the end of the input included */
}

/* The possessive repeat: where it stops. */
static Py_ssize_t skip_run(const Ctx *x, Py_ssize_t p, int conditional) {
    bytes_t b = x->b;
    Py_ssize_t n = x->n;
    while (p < n) {
        int c = b[p];
        if (c != '<') {
            if (!conditional) {
                bytes_t lt = memchr(b + p, '<', (size_t)(n - p));
                p = lt == NULL ? n : lt - b;
            } else if (c != '-') {
                do p++;
                while (p < n && b[p] != '<' && b[p] != '-');
            } else {
                if (comment_close(x, p) >= 0) return p; /* `-->` or `--!>` */
                p++;
            }
            continue;
        }
        Py_ssize_t end = markup(x, p, conditional);
        if (end < 0) return p;
        p = end;
    }
    return p;
}

/* The events after the repeat, in order: (kind, offset), or (None, the stop). */
static PyObject *event(const Ctx *x, Py_ssize_t s, int conditional) {
    if (STARTS(x, s, "<!--")) return Py_BuildValue("(On)", KIND_COMMENT, s);
    if (STARTS(x, s, "<")) {
        Py_ssize_t e = name_end(x, s + 1);
        if (raw_index(x, s + 1, e) >= 0) return Py_BuildValue("(On)", KIND_RAW, s);
        if (is_link(x, s + 1, e)) return Py_BuildValue("(On)", KIND_LINK, s);
    }
    if (conditional) {
        Py_ssize_t end = endif(x, s);
        if (end >= 0) return Py_BuildValue("(On)", KIND_ENDCOND, end);
    }
    return Py_BuildValue("(On)", Py_None, s);
}

PyDoc_STRVAR(skip_doc,
             "skip(buffer, pos, conditional, globs, /) -> (kind, offset)\n\n"
             "Skip from pos what cannot hold a link; kind is 'comment', 'raw' or 'link' (offset: "
             "its '<'), 'endcond' (offset: its end) or None (offset: where the skip stopped).\n"
             "globs: (lower-case name bytes, ends in '*') pairs.");

static PyObject *skip(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "skip() takes exactly 4 arguments");
        return NULL;
    }
    if (!PyBytes_Check(args[0]) || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "skip() needs bytes and a tuple of globs");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    int conditional = PyObject_IsTrue(args[2]);
    if (conditional < 0) return NULL;
    Py_ssize_t nglobs = PyTuple_GET_SIZE(args[3]);
    if (nglobs > MAX_GLOBS) {
        PyErr_SetString(PyExc_ValueError, "too many link-tag globs");
        return NULL;
    }
    Glob globs[MAX_GLOBS];
    for (Py_ssize_t i = 0; i < nglobs; i++) {
        PyObject *item = PyTuple_GET_ITEM(args[3], i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(item, 0))) {
            PyErr_SetString(PyExc_TypeError, "a glob is a (bytes, bool) pair");
            return NULL;
        }
        PyObject *text = PyTuple_GET_ITEM(item, 0);
        globs[i].text = (bytes_t)PyBytes_AS_STRING(text);
        globs[i].size = PyBytes_GET_SIZE(text);
        globs[i].prefix = PyObject_IsTrue(PyTuple_GET_ITEM(item, 1));
        if (globs[i].prefix < 0) return NULL;
    }
    Ctx x = {(bytes_t)PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), globs, (int)nglobs};
    if (pos < 0 || pos > x.n) {
        PyErr_SetString(PyExc_ValueError, "pos outside the buffer");
        return NULL;
    }
    return event(&x, skip_run(&x, pos, conditional), conditional);
}

static PyMethodDef methods[] = {
    {"skip", (PyCFunction)(void (*)(void))skip, METH_FASTCALL, skip_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cscan", "The compiled skip of rewriter.document.scan.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cscan(void) {
    for (int c = 0; c < 256; c++) {
        int ws = c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
        WS[c] = (unsigned char)ws;
        SEP[c] = (unsigned char)(ws || c == '/');
        NAME_END[c] = (unsigned char)(ws || c == '/' || c == '>');
        ATTR_STOP[c] = (unsigned char)(NAME_END[c] || c == '=');
        UNQ_STOP[c] = (unsigned char)(ws || c == '>');
    }
    KIND_COMMENT = PyUnicode_InternFromString("comment");
    KIND_RAW = PyUnicode_InternFromString("raw");
    KIND_LINK = PyUnicode_InternFromString("link");
    KIND_ENDCOND = PyUnicode_InternFromString("endcond");
    if (!KIND_COMMENT || !KIND_RAW || !KIND_LINK || !KIND_ENDCOND) return NULL;
    return PyModule_Create(&module);
}
