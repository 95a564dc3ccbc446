/* The compiled twin of rewriter.tokens.codec's byte-table Huffman decoder.
 *
 * decode_symbols(data, following, packed, stride) -> (symbols, end_node)
 *
 * The tables are the Python decoder's own (codec._compiled_tables): for each index
 * (node << 8 | input byte), `following` holds the node the byte ends in (one byte), and
 * `packed` holds, at index * stride, how many symbols the byte completes, then those symbols.
 * The pure-Python loop in codec.py is the reference; tests/test_codec_table.py checks that both
 * give the same symbols and the same end node for any bytes. Validation of the result (padding,
 * length) stays in Python, shared by both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define TABLE_ENTRIES 65536

static PyObject *
decode_symbols(PyObject *module, PyObject *args)
{
    Py_buffer data, following, packed;
    int stride;
    PyObject *result = NULL;

    if (!PyArg_ParseTuple(args, "y*y*y*i", &data, &following, &packed, &stride)) {
        return NULL;
    }
    if (stride < 2 || stride > 64 || following.len != TABLE_ENTRIES ||
        packed.len != (Py_ssize_t)TABLE_ENTRIES * stride) {
        PyErr_SetString(PyExc_ValueError, "decode_symbols: tables of the wrong size");
        goto done;
    }
    /* A byte completes at most stride - 1 symbols: that bounds the output. */
    if (data.len > PY_SSIZE_T_MAX / (stride - 1)) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *symbols = PyBytes_FromStringAndSize(NULL, data.len * (stride - 1));
    if (symbols == NULL) {
        goto done;
    }
    const unsigned char *in = (const unsigned char *)data.buf;
    const unsigned char *next = (const unsigned char *)following.buf;
    const unsigned char *table = (const unsigned char *)packed.buf;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(symbols);
    Py_ssize_t written = 0;
    unsigned int node = 0;
    for (Py_ssize_t i = 0; i < data.len; i++) {
        unsigned int index = (node << 8) | in[i];
        const unsigned char *entry = table + (Py_ssize_t)index * stride;
        unsigned int count = entry[0];
        if (count > (unsigned int)(stride - 1)) {
            Py_DECREF(symbols);
            PyErr_SetString(PyExc_ValueError, "decode_symbols: a table entry is too long");
            goto done;
        }
        memcpy(out + written, entry + 1, count);
        written += count;
        node = next[index];
    }
    if (_PyBytes_Resize(&symbols, written) < 0) {
        goto done;
    }
    result = Py_BuildValue("(Ni)", symbols, (int)node);

done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&following);
    PyBuffer_Release(&packed);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_symbols", decode_symbols, METH_VARARGS,
     "decode_symbols(data, following, packed, stride) -> (symbols, end_node)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cdecode",
    "The compiled twin of the token codec's byte-table decoder.", -1, methods,
};

PyMODINIT_FUNC
PyInit__cdecode(void)
{
    return PyModule_Create(&module);
}
