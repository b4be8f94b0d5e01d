"""ipc/services"""
