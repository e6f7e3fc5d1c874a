"""The tiny test guests are well-formed for both entry paths."""
import subprocess

from conftest import GUESTS


def test_hello_is_a_64bit_elf_with_a_pvh_note(volt_bin):
    hello = GUESTS / "hello"
    assert hello.exists(), f"{hello} was not built"
    hdr = subprocess.run(["readelf", "-hln", str(hello)], capture_output=True, text=True,
                         check=True).stdout
    assert "ELF64" in hdr and "EXEC" in hdr
    assert "Entry point address:               0x100000" in hdr
    assert "Xen" in hdr and "0x00000012" in hdr  # XEN_ELFNOTE_PHYS32_ENTRY
    assert hello.stat().st_size < 16384
