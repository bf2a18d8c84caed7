/* The Xen lab's dom0 only (preloaded into libvirtd by /etc/default/libvirtd).
 *
 * libvirt's libxl driver describes the host CPU by matching the CPUID words Xen reports against
 * its CPU models, and refuses to start when none fits.  Every model it may use needs VME or SEP:
 * every real x86-64 CPU has VME, but QEMU's TCG emulates none, and Xen hides SEP on AMD (the
 * vendor TCG's SVM needs), so under TCG no model fits.  This adds VME to what libvirtd reads from
 * libxl_get_physinfo; Xen, dom0 and the guests see the CPU as it is. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libxl.h>

int libxl_get_physinfo(libxl_ctx *ctx, libxl_physinfo *physinfo)
{
    static int (*real)(libxl_ctx *, libxl_physinfo *);
    int rc;

    if (!real)
        real = (int (*)(libxl_ctx *, libxl_physinfo *))dlsym(RTLD_NEXT, "libxl_get_physinfo");
    rc = real(ctx, physinfo);
    if (rc == 0)
        physinfo->hw_cap[0] |= 1u << 1;   /* CPUID.1:EDX bit 1, VME */
    return rc;
}
