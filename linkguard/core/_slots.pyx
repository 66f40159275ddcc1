# cython: language_level=3
"""Objects of slotted classes, built from their member descriptors in one call.

The URL model builds a :class:`~linkguard.core.url.ParsedUrl` (a frozen dataclass with 17
slots) for every URL it parses. Its generated ``__init__`` sets each field through
``object.__setattr__``; the Python path in ``url._new_parsed`` calls each slot's descriptor
instead, which still costs a Python call per field — about 10,000 instructions of a
canonical link's ~24,000-instruction parse. Here each descriptor's ``tp_descr_set`` (CPython's
``member_set``: it checks the object's type and stores the reference) is called directly.
Only member descriptors are accepted, so this can set nothing a descriptor call could not.
"""

from cpython.ref cimport PyObject
from types import MemberDescriptorType


cdef extern from "Python.h":
    ctypedef int (*descrsetfunc)(PyObject *, PyObject *, PyObject *) except -1
    ctypedef struct _TypeObject "PyTypeObject":
        descrsetfunc tp_descr_set
    _TypeObject *_type_of "Py_TYPE"(object o)


cdef object _new = object.__new__
cdef object _member = MemberDescriptorType


def build(cls, tuple descriptors, tuple values):
    """A new ``cls`` object (``object.__new__``) with ``descriptors[i]`` set to ``values[i]``;
    what calling each descriptor's ``__set__`` in turn gives."""
    cdef Py_ssize_t i, n = len(descriptors)
    cdef object descriptor
    if len(values) != n:
        raise ValueError(f"{n} descriptors, {len(values)} values")
    obj = _new(cls)
    for i in range(n):
        descriptor = descriptors[i]
        if type(descriptor) is not _member:
            raise TypeError(f"not a member descriptor: {descriptor!r}")
        _type_of(descriptor).tp_descr_set(<PyObject *>descriptor, <PyObject *>obj,
                                          <PyObject *>values[i])
    return obj
