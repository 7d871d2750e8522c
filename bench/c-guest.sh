# Sourced by the bench scripts that time a C guest of guests/ on jvisor and on QEMU.
# build_c_guest OUT NAME N...: builds guests/NAME.c once per request count N (-DREQUESTS=N) as
# OUT/NAME-N.elf (jvisor's ELF entry) and OUT/NAME-N.mb.elf (its Multiboot twin, for QEMU).
build_c_guest() {
    local out="$1" name="$2" g="$ROOT/guests" n
    shift 2
    local cflags=(-ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mgeneral-regs-only -nostdlib -O2
                  -fno-asynchronous-unwind-tables -mcmodel=kernel -I"$g")
    local ld=(-nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack)
    gcc -c -o "$out/start.o" "$g/start.s"
    gcc "${cflags[@]}" -c -o "$out/lib.o" "$g/lib.c"
    gcc -c -o "$out/boot32.o" "$g/qemu/boot32.S"
    for n in "$@"; do
        gcc "${cflags[@]}" -DREQUESTS="$n" -c -o "$out/$name-$n.o" "$g/$name.c"
        gcc "${ld[@]}" -Wl,-T,"$g/guest.ld" -o "$out/$name-$n.elf" "$out/start.o" "$out/$name-$n.o" "$out/lib.o"
        gcc "${ld[@]}" -Wl,-T,"$g/qemu/mb.ld" -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments \
            -o "$out/$name-$n.mb.elf" "$out/boot32.o" "$out/start.o" "$out/$name-$n.o" "$out/lib.o"
    done
}
