"""The agreement file: checked, and mapped onto vmi_rules terms."""
