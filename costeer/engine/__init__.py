"""The OpenMM side: loading systems, stepping, interactive forces, frames out."""
