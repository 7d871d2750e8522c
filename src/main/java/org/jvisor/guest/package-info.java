/**
 * The demo guest: Debian 12's cloud kernel and a busybox initramfs with the virtio modules,
 * built from Debian packages by {@link org.jvisor.guest.GuestBuilder} (see guest/README.md).
 * Pieces: {@link org.jvisor.guest.CpioWriter} (newc cpio), {@link org.jvisor.guest.DebianPackages}
 * (apt-get download, dpkg-deb), {@link org.jvisor.guest.KernelModules} (dependencies and load
 * order), {@link org.jvisor.guest.InitScript} (/init), {@link org.jvisor.guest.InitramfsBuilder}.
 */
package org.jvisor.guest;
