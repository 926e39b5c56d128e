"""Trusted reference implementations, never inside a sandbox.

One package per built-in assignment pack (``reference.hlcv_ex2``, ...) plus the numeric code every
pack shares: ``gradcheck`` (numerical gradients, relative error) and ``cifar10`` (loaders for the
local CIFAR-10 releases).
"""
