/*
 * bcryptprimitives.dll for Wine 8.0, which lacks it. Go 1.24 and later
 * load ProcessPrng from it at start-up and stop with "bcryptprimitives.dll
 * not found" without it. This shim answers ProcessPrng with RtlGenRandom
 * (advapi32's SystemFunction036), which Wine 8.0 has. Built by
 * scripts/wine/setup.sh with mingw-w64; used only to run the Windows test
 * binaries under Wine, never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
