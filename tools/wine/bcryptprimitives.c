/*
 * A stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian 12)
 * lacks: Go 1.24 and later get their random numbers from its ProcessPrng,
 * and a Go program for Windows does not start under Wine without it. This
 * one draws them from advapi32's RtlGenRandom (SystemFunction036), which
 * Wine has. Windows 10 and later ship the real one; this is for tools/wine
 * only.
 */
#include <windows.h>

typedef BOOLEAN(WINAPI *RtlGenRandom_t)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	static RtlGenRandom_t gen;
	if (!gen)
		gen = (RtlGenRandom_t)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
	if (!gen)
		return FALSE;
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!gen(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) { return TRUE; }
