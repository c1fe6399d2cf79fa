/*
 * A real program for bench/wasm: Debian's Lua 5.4 interpreter (built from the lua5.4
 * source package, linked in) running a CPU-bound script: recursive calls, a sieve over a
 * table, string formatting and pattern matching, sorting with a Lua comparator, objects
 * with metatables and method calls, float arithmetic (sqrt only: correctly rounded in
 * every libc, so the checksum is the same everywhere). Prints the usual
 * "kernel lua ns=N checksum=0x..." line (bench.h); the time covers running the script.
 */
#include "../kernels/bench.h"

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

static const char script[] =
	"local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end\n"
	"local sum = fib(25)\n"
	"local N = 100000\n"
	"local sieve = {}\n"
	"for i = 2, N do sieve[i] = true end\n"
	"for i = 2, N do if sieve[i] then for j = i * i, N, i do sieve[j] = false end end end\n"
	"for i = 2, N do if sieve[i] then sum = sum + 1 end end\n"
	"local parts = {}\n"
	"for i = 1, 15000 do parts[#parts + 1] = string.format('%d:%x', i, i * 7) end\n"
	"local s = table.concat(parts, ',')\n"
	"for w in s:gmatch('(%d+):') do sum = sum + #w end\n"
	"sum = sum + #s + #(s:gsub('[0-9]', 'x'))\n"
	"local arr, x = {}, 12345\n"
	"for i = 1, 20000 do x = (x * 1103515245 + 12345) % 2147483648; arr[i] = x end\n"
	"table.sort(arr, function(a, b) return a > b end)\n"
	"sum = sum + arr[1] % 1000 + arr[#arr] % 1000 + arr[10000] % 1000\n"
	"local Point = {}\n"
	"Point.__index = Point\n"
	"function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end\n"
	"function Point:add(o) return Point.new(self.x + o.x, self.y + o.y) end\n"
	"local p = Point.new(0, 0)\n"
	"for i = 1, 150000 do p = p:add(Point.new(1, i % 3)) end\n"
	"sum = sum + p.x + p.y\n"
	"local acc = 0.0\n"
	"for i = 1, 300000 do acc = acc + math.sqrt(i) * 0.5 end\n"
	"sum = sum + math.floor(acc)\n"
	"return sum\n";

int main(void)
{
	lua_State *L = luaL_newstate();
	uint64_t t0, sum;

	if (!L)
		return 1;
	luaL_openlibs(L);
	t0 = bench_now_ns();
	if (luaL_loadstring(L, script) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
		fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
		return 1;
	}
	sum = (uint64_t)lua_tointeger(L, -1);
	bench_report("lua", t0, sum);
	lua_close(L);
	return 0;
}
