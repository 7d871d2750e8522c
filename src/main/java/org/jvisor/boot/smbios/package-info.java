/**
 * SMBIOS (DMTF DSP0134 3.0): the tables that tell a guest what machine it runs on (dmidecode,
 * Linux's /sys/class/dmi/id), among them the system UUID given with -uuid.
 */
package org.jvisor.boot.smbios;
