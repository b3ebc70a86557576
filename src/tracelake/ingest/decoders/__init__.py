"""Sans-IO decoders, one wire format per module.

A decoder turns bytes into log objects (see ``tracelake.model``) and never touches a
socket or the store, so each is unit-tested and fuzzed on bytes alone.
"""
