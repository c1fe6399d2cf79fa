#!/usr/bin/env python3
"""Differential tests for lodge against qemu-riscv64 (Linux user mode).

A seed picks a random RV64GC instruction sequence (the "body") plus initial register and
memory contents; the same body is linked into two harnesses (harness.S: Linux user mode
for qemu-riscv64, bare metal for `lodge run --bare`) at the same addresses, and both print
x1..x31, f0..f31, fcsr and the scratch buffer. Any difference is a bug in one of them.

Subcommands:
  gen.py run --seeds A-B [--lodge PATH] [--out DIR]   build, run and compare (suite lines)
  gen.py selftest [--out DIR]                          check that qemu runs and diffs show
  gen.py gen --seed N [--out DIR]                      only write DIR/seedN.S
  gen.py minimize --seed N --lodge PATH [--out DIR]    shrink a failing seed by units

Body rules (so that the two sides may only differ through bugs): x8 is the buffer base and
x2 = x8 + 256 (a page boundary), neither is ever written for long; stores and AMOs stay
inside the 512-byte buffer; loads may also read the 512-byte constant pool after it; AMOs
and LR/SC are aligned, plain loads and stores sometimes not; no traps; branches go forward
except in counted loops and in u_far, whose paths all meet again; frm only ever holds a
valid rounding mode; LR/SC pairs have no memory access in between; code written at run
time (u_smc) is followed by fence.i. A program is a list of self-contained units; after
each one the body calls diff_snap (harness.S), which logs a hash of the whole state, so
the first unit whose result differs is known even when a later one overwrites it, and
`minimize` can drop any unit.

Environment: DIFF_CROSS (default riscv64-linux-gnu-), DIFF_QEMU (default qemu-riscv64).
"""

import argparse
import concurrent.futures
import os
import random
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CROSS = os.environ.get("DIFF_CROSS", "riscv64-linux-gnu-")
QEMU = os.environ.get("DIFF_QEMU", "qemu-riscv64")

BUF = 512		# writable scratch buffer, x8 + 0 .. 511
POOL = 512		# read-only constant pool, x8 + 512 .. 1023
POOL_INT = 512		# 16 integer edge values
POOL_F64 = 512 + 128	# 32 double bit patterns
POOL_F32 = 512 + 384	# 32 single bit patterns
SNAP_RA = 1536		# after the register dump: see harness.S

INT_REGS = [1, 3, 4, 5, 6, 7] + list(range(9, 32))
CINT_REGS = list(range(9, 16))		# compressible registers, minus x8
RMS = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"]
M64 = (1 << 64) - 1


def s64(v):
	v &= M64
	return v - (1 << 64) if v >> 63 else v


def int_edges(rng):
	e = [0, 1, -1, 2, -2, 1 << 63, (1 << 63) - 1, -(1 << 31), (1 << 31) - 1,
	     0xffffffff, 0x80000000, 1 << 32, 0x8000000000000001, 0xffffffff00000000,
	     0x7fffffff80000000, 0xffff8000, 31, 32, 63, 64]
	while len(e) < 24:
		e.append(rng.getrandbits(64))
	return [v & M64 for v in e]


def f64(x):
	return struct.unpack("<Q", struct.pack("<d", x))[0]


def f32(x):
	return struct.unpack("<I", struct.pack("<f", x))[0]


F64_EDGES = [0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
	     0x7ff4000000000123, 0xfff8000000000000, 0x7ff0000000000001, 0x1,
	     0x000fffffffffffff, 0x0010000000000000, 0x7fefffffffffffff, f64(1.0), f64(-1.0),
	     f64(0.5), f64(1.5), f64(2.5), f64(-2.5), f64(2.0 ** -53), f64(1 + 2.0 ** -52),
	     f64(2.0 ** 63), f64(-2.0 ** 63), f64(2.0 ** 64), f64(2.0 ** 31), f64(4294967295.5),
	     f64(-2.0 ** 31 - 0.5), f64(0.1), f64(3.0), f64(-0.0), f64(1e308),
	     0x3fefffffffffffff, 0x0010000000000001, 0x8000000000000001, 0xffefffffffffffff]
F32_EDGES = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00123, 0xffc00000,
	     0x7f800001, 0x1, 0x7fffff, 0x800000, 0x7f7fffff, f32(1.0), f32(-1.0), f32(0.5),
	     f32(1.5), f32(2.5), f32(-2.5), f32(2.0 ** -24), 0x3f800001, f32(2.0 ** 31),
	     f32(-2.0 ** 31), f32(2.0 ** 32), f32(2.0 ** 63), f32(2.0 ** 64), f32(-2.0 ** 63),
	     f32(0.1), f32(3.0), f32(16777215.0), f32(-0.5), f32(1e38), 0x00400000, 0x3f7fffff,
	     0x00800001, 0x80000001, 0xff7fffff]


# Encodings for u_smc: R-type op -> (opcode, funct3, funct7); I-type op -> funct3.
R_OPS = {"add": (0x33, 0, 0), "sub": (0x33, 0, 0x20), "sll": (0x33, 1, 0), "slt": (0x33, 2, 0),
	 "sltu": (0x33, 3, 0), "xor": (0x33, 4, 0), "srl": (0x33, 5, 0), "sra": (0x33, 5, 0x20),
	 "or": (0x33, 6, 0), "and": (0x33, 7, 0), "mul": (0x33, 0, 1), "mulh": (0x33, 1, 1),
	 "div": (0x33, 4, 1), "remu": (0x33, 7, 1), "addw": (0x3b, 0, 0), "subw": (0x3b, 0, 0x20)}
I_OPS = {"addi": 0, "slti": 2, "sltiu": 3, "xori": 4, "ori": 6, "andi": 7}


class Unit:
	"""A self-contained piece of body: asm lines and, per line, the locations it writes."""

	def __init__(self):
		self.lines = []		# (text, writes) with writes a list of 'xN'/'fN'/'fcsr'/(off, size)

	def add(self, text, *writes):
		self.lines.append((text, list(writes)))

	def extend(self, other):
		self.lines.extend(other.lines)

	def count(self):
		return sum(1 for t, _ in self.lines
			   if not t.endswith(":") and not t.startswith((".skip", ".balign")))


class Gen:
	"""Random program generator; one instance per seed, fully determined by it."""

	def __init__(self, seed, ninsn=400, rvc=None, snap=True, mode=None):
		self.rng = random.Random(seed)
		r = self.rng
		self.snap = snap
		self.rvc = (seed % 3 != 0) if rvc is None else rvc
		self.ninsn = ninsn
		self.label = 0
		self.avoid = set()		# x registers the current unit must not write
		self.age = {}			# x register -> when dst() last picked it
		self.clock = 0
		self.fkind = {}			# f register -> 's' or 'd' (what was last put there)
		self.ints = int_edges(r)
		self.pool_ints = r.sample(self.ints, 16)
		self.f64s = r.sample(F64_EDGES, 28) + [r.getrandbits(64) for _ in range(4)]
		r.shuffle(self.f64s)
		self.f32s = r.sample(F32_EDGES, 28) + [r.getrandbits(32) for _ in range(4)]
		r.shuffle(self.f32s)
		self.init_x = [self.edge_int() for _ in range(31)]
		self.init_f = []
		for n in range(32):
			if r.random() < 0.5:
				self.fkind[n] = "s"
				self.init_f.append(0xffffffff00000000 | r.choice(F32_EDGES + [r.getrandbits(32)]))
			else:
				self.fkind[n] = "d"
				self.init_f.append(r.choice(F64_EDGES + [r.getrandbits(64)]))
		self.buf = bytearray(r.getrandbits(8) for _ in range(BUF))
		for i in range(0, BUF, 8):
			if r.random() < 0.3:
				self.buf[i:i + 8] = struct.pack("<Q", r.choice(self.ints))
		self.skip = 2 * r.randrange(1800)
		# Bare side only: 0 M-mode, 1 U-mode Sv39, 2 S-mode Sv39, 3 U-mode Sv48.
		self.mode = r.choice([0, 0, 1, 2, 3])
		if mode is not None:
			self.mode = mode
		self.units = []
		n = 0
		while n < ninsn:
			u = self.top_unit()
			self.units.append(u)
			n += u.count()

	# ---- operand choice -------------------------------------------------------------------

	def edge_int(self):
		r = self.rng
		k = r.random()
		if k < 0.5:
			return r.choice(self.ints)
		if k < 0.7:
			return r.randint(-16, 16) & M64
		if k < 0.85:
			return s64(r.getrandbits(32) | (-(1 << 31) if r.random() < 0.5 else 0)) & M64
		return r.getrandbits(64)

	def src(self, compress=False):
		r = self.rng
		pool = CINT_REGS if compress else INT_REGS
		if r.random() < 0.35:
			# Recently written registers, so results flow into later instructions
			# instead of dying unobserved.
			recent = sorted(pool, key=lambda x: -self.age.get(x, 0))[:4]
			return r.choice(recent)
		if compress:
			return r.choice(pool)
		k = r.random()
		if k < 0.04:
			return 0
		if k < 0.07:
			return r.choice([2, 8])
		return r.choice(INT_REGS)

	def dst(self, compress=False):
		r = self.rng
		pool = CINT_REGS if compress else INT_REGS
		pool = [x for x in pool if x not in self.avoid]
		if not compress and r.random() < 0.03:
			return 0
		if r.random() < 0.6:
			# Least recently written registers, so values live a while.
			pool = sorted(pool, key=lambda x: self.age.get(x, 0))[:max(3, len(pool) // 3)]
		d = r.choice(pool)
		self.clock += 1
		self.age[d] = self.clock
		return d

	def fsrc(self, kind):
		r = self.rng
		if r.random() < 0.9:
			same = [n for n in range(32) if self.fkind.get(n) == kind]
			if same:
				return r.choice(same)
		return r.randrange(32)

	def fdst(self, kind, compress=False):
		n = self.rng.choice(range(8, 16)) if compress else self.rng.randrange(32)
		self.fkind[n] = kind
		return n

	def rm(self):
		r = self.rng
		return "" if r.random() < 0.5 else ", " + r.choice(RMS)

	def want_c(self):
		return self.rvc and self.rng.random() < 0.4

	def newlabel(self):
		self.label += 1
		return "L%d" % self.label

	# ---- units ------------------------------------------------------------------------------

	def top_unit(self):
		return self.pick(2)

	def pick(self, depth):
		"""depth 2: anything; 1: no loops; 0: straight-line only."""
		table = [
			(10, self.u_alu_rr), (10, self.u_alu_ri), (2, self.u_lui_auipc), (5, self.u_li),
			(8, self.u_muldiv), (3, self.u_muldiv_edge), (6, self.u_load), (6, self.u_store),
			(4, self.u_amo), (2, self.u_lrsc), (12, self.u_fp_arith), (4, self.u_fp_fma),
			(7, self.u_fp_cvt), (5, self.u_fp_cmp), (3, self.u_fp_mv), (4, self.u_fp_mem),
			(6, self.u_fp_pool), (4, self.u_fcsr), (6, self.u_fp_probe), (5, self.u_fp_tie),
			(1, self.u_fence), (1, self.u_hint),
		]
		if self.rvc:
			table.append((1, self.u_sp_adjust))
		if depth >= 1:
			table += [(4, self.u_branch), (2, self.u_jal), (1, self.u_jalr), (1, self.u_smc)]
		if depth >= 2:
			table += [(1, self.u_loop), (0.5, self.u_far)]
		total = sum(w for w, _ in table)
		k = self.rng.uniform(0, total)
		for w, f in table:
			k -= w
			if k <= 0:
				return f(depth)
		return table[-1][1](depth)

	def u_alu_rr(self, depth):
		u = Unit()
		r = self.rng
		op = r.choice(["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
			       "addw", "subw", "sllw", "srlw", "sraw"])
		if self.want_c() and op in ("add", "sub", "xor", "or", "and", "addw", "subw"):
			d = self.dst(True)
			u.add("%s x%d, x%d, x%d" % (op, d, d, self.src(True)), "x%d" % d)
			return u
		d = self.dst()
		u.add("%s x%d, x%d, x%d" % (op, d, self.src(), self.src()), "x%d" % d)
		return u

	def u_alu_ri(self, depth):
		u = Unit()
		r = self.rng
		op = r.choice(["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw", "slli", "srli",
			       "srai", "slliw", "srliw", "sraiw"])
		if op in ("slli", "srli", "srai"):
			imm = r.choice([0, 1, 31, 32, 63, r.randrange(64)])
		elif op.endswith("iw") and op != "addiw":
			imm = r.choice([0, 1, 31, r.randrange(32)])
		else:
			imm = r.choice([0, 1, -1, 2047, -2048, r.randint(-32, 31), r.randint(-2048, 2047)])
		if self.want_c() and op in ("addi", "addiw", "andi", "slli", "srli", "srai"):
			d = self.dst(op in ("andi", "srli", "srai"))
			if op not in ("slli", "srli", "srai"):
				imm = r.randint(-32, 31)
			elif imm == 0:
				imm = 1
			u.add("%s x%d, x%d, %d" % (op, d, d, imm), "x%d" % d)
			return u
		d = self.dst()
		u.add("%s x%d, x%d, %d" % (op, d, self.src(), imm), "x%d" % d)
		return u

	def u_lui_auipc(self, depth):
		u = Unit()
		r = self.rng
		op = r.choice(["lui", "lui", "auipc"])
		imm = r.choice([0, 1, 0x1f, 0x7ffff, 0x80000, 0xfffff, 0xfffe0, r.randrange(1 << 20)])
		d = self.dst()
		u.add("%s x%d, 0x%x" % (op, d, imm), "x%d" % d)
		return u

	def u_li(self, depth):
		u = Unit()
		r = self.rng
		d = self.dst(self.want_c())
		if r.random() < 0.4:
			u.add("ld x%d, %d(x8)" % (d, POOL_INT + 8 * r.randrange(16)), "x%d" % d)
		else:
			u.add("li x%d, %d" % (d, s64(self.edge_int())), "x%d" % d)
		return u

	def u_muldiv(self, depth):
		u = Unit()
		r = self.rng
		op = r.choice(["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
			       "mulw", "divw", "divuw", "remw", "remuw"])
		d = self.dst()
		u.add("%s x%d, x%d, x%d" % (op, d, self.src(), self.src()), "x%d" % d)
		return u

	def u_muldiv_edge(self, depth):
		"""Division and multiplication on the operands where they go wrong."""
		u = Unit()
		r = self.rng
		edges = [0, 1, -1, 2, -(1 << 63), (1 << 63) - 1, -(1 << 31), (1 << 31) - 1,
			 0xffffffff, 0x80000000, 1 << 32, -(1 << 32)]
		a, b = self.tmp(), self.tmp()
		while b == a:
			b = self.tmp()
		u.add("li x%d, %d" % (a, r.choice(edges)), "x%d" % a)
		u.add("li x%d, %d" % (b, r.choice(edges)), "x%d" % b)
		op = r.choice(["div", "divu", "rem", "remu", "divw", "divuw", "remw", "remuw", "mulh",
			       "mulhsu", "mulhu", "mulw"])
		d = self.dst()
		u.add("%s x%d, x%d, x%d" % (op, d, a, b), "x%d" % d)
		return u

	def tmp(self):
		"""A destination register other than x0."""
		t = self.dst()
		while t == 0:
			t = self.dst()
		return t

	def u_smc(self, depth):
		"""Self-modifying code: write an instruction into diff_code, or over the next
		instruction of the body itself, fence.i, run it."""
		u = Unit()
		r = self.rng
		a = self.tmp()
		t = self.tmp()
		while t == a:
			t = self.tmp()
		link = self.tmp()
		while link in (a, t):
			link = self.tmp()
		d = self.dst()
		while d == link:
			d = self.dst()
		s1, s2 = self.src(), self.src()
		u.add("lla x%d, diff_code" % a, "x%d" % a)
		k = r.randrange(3)
		if k == 0:
			op = r.choice(list(R_OPS))
			opc, f3, f7 = R_OPS[op]
			insn = opc | d << 7 | f3 << 12 | s1 << 15 | s2 << 20 | f7 << 25
			what = "%s x%d, x%d, x%d" % (op, d, s1, s2)
		elif k == 1:
			op = r.choice(list(I_OPS))
			imm = r.randint(-2048, 2047)
			insn = 0x13 | d << 7 | I_OPS[op] << 12 | s1 << 15 | (imm & 0xfff) << 20
			what = "%s x%d, x%d, %d" % (op, d, s1, imm)
		else:
			imm = r.choice([i for i in range(-32, 32) if i])
			while d in (0, link):
				d = self.tmp()
			cadd = 1 | (imm & 31) << 2 | d << 7 | (imm >> 5 & 1) << 12
			insn = cadd | 0x0001 << 16		# c.addi, c.nop
			what = "c.addi x%d, %d; c.nop" % (d, imm)
		if r.random() < 0.5:
			# Patch the next instruction of the running code, in place.
			slot = self.newlabel()
			u.lines[-1] = ("lla x%d, %s" % (a, slot), ["x%d" % a])
			u.add("li x%d, %d" % (t, insn), "x%d" % t)
			u.add("sw x%d, 0(x%d)" % (t, a))
			u.add("fence.i")
			u.add(".balign 4")
			u.add(slot + ":")
			u.add(".4byte 0x00000013\t/* nop, becomes %s */" % what, "x%d" % d)
			return u
		u.add("li x%d, %d" % (t, insn), "x%d" % t)
		u.add("sw x%d, 0(x%d)" % (t, a))
		u.add("li x%d, %d" % (t, 0x67 | link << 15), "x%d" % t)	# jalr x0, 0(link)
		u.add("sw x%d, 4(x%d)" % (t, a))
		u.add("fence.i")
		u.add("jalr x%d, 0(x%d)\t/* runs %s */" % (link, a, what), "x%d" % link, "x%d" % d)
		return u

	def mem_slot(self, size, store, compress=False):
		"""(base, offset) for an access of `size` bytes; stores stay inside the buffer."""
		r = self.rng
		top = BUF if store else BUF + POOL
		if compress:
			# c.lw/c.ld/c.sw/c.sd/c.fld/c.fsd off x8, or c.*sp off sp (x8 + 256).
			if r.random() < 0.5:
				lim = min(top, 32 * size)
				return 8, size * r.randrange(lim // size)
			lim = min(top - 256, 64 * size)
			return 2, size * r.randrange(lim // size)
		align = size if r.random() < 0.9 else 1		# a few misaligned plain accesses
		off = align * r.randrange((top - size) // align + 1)
		if align == 1 and size > 1 and r.random() < 0.3:
			off = 256 - r.randint(1, size - 1)	# across the page boundary at sp
		if r.random() < 0.5:
			return 8, off
		return 2, off - 256

	def u_load(self, depth):
		u = Unit()
		r = self.rng
		op, size = r.choice([("lb", 1), ("lh", 2), ("lw", 4), ("ld", 8), ("lbu", 1),
				     ("lhu", 2), ("lwu", 4)])
		c = self.want_c() and op in ("lw", "ld")
		d = self.dst(c and r.random() < 0.5)
		base, off = self.mem_slot(size, False, c)
		if not c and r.random() < 0.2:
			t = self.dst()
			if t != 0:
				k = r.randrange(-64, 64)
				u.add("addi x%d, x%d, %d" % (t, base, k), "x%d" % t)
				base, off = t, off - k
		u.add("%s x%d, %d(x%d)" % (op, d, off, base), "x%d" % d)
		return u

	def store_target(self, base, off, size):
		return (off + (256 if base == 2 else 0), size)

	def u_store(self, depth):
		u = Unit()
		r = self.rng
		op, size = r.choice([("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)])
		c = self.want_c() and op in ("sw", "sd")
		s = self.src(c and r.random() < 0.5)
		base, off = self.mem_slot(size, True, c)
		u.add("%s x%d, %d(x%d)" % (op, s, off, base), self.store_target(base, off, size))
		return u

	def addr_reg(self, u, off):
		"""Put x8 + off in a fresh register, or use x8 itself when off is 0."""
		if off == 0 and self.rng.random() < 0.5:
			return 8
		a = self.dst()
		while a == 0:
			a = self.dst()
		u.add("addi x%d, x8, %d" % (a, off), "x%d" % a)
		return a

	def u_amo(self, depth):
		u = Unit()
		r = self.rng
		w = r.choice(["w", "d"])
		size = 4 if w == "w" else 8
		off = size * r.randrange(BUF // size)
		a = self.addr_reg(u, off)
		op = r.choice(["swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"])
		order = r.choice(["", "", ".aq", ".rl", ".aqrl"])
		d = self.dst()
		u.add("amo%s.%s%s x%d, x%d, (x%d)" % (op, w, order, d, self.src(), a), "x%d" % d,
		      (off, size))
		return u

	def u_lrsc(self, depth):
		u = Unit()
		r = self.rng
		w = r.choice(["w", "d"])
		size = 4 if w == "w" else 8
		off = size * r.randrange(BUF // size)
		a = self.addr_reg(u, off)
		saved = set(self.avoid)
		self.avoid.add(a)
		if r.random() < 0.85:
			d = self.dst()
			u.add("lr.%s%s x%d, (x%d)" % (w, r.choice(["", ".aq", ".aqrl"]), d, a), "x%d" % d)
			for _ in range(r.randrange(3)):
				u.extend(r.choice([self.u_alu_rr, self.u_alu_ri, self.u_muldiv])(0))
		self.avoid = saved
		d = self.dst()
		u.add("sc.%s%s x%d, x%d, (x%d)" % (w, r.choice(["", ".rl", ".aqrl"]), d, self.src(), a),
		      "x%d" % d, (off, size))
		return u

	def u_fp_arith(self, depth):
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		op = r.choice(["fadd", "fsub", "fmul", "fdiv", "fsqrt", "fmin", "fmax", "fsgnj",
			       "fsgnjn", "fsgnjx"])
		a, b = self.fsrc(k), self.fsrc(k)
		d = self.fdst(k)
		if op == "fsqrt":
			u.add("fsqrt.%s f%d, f%d%s" % (k, d, a, self.rm()), "f%d" % d, "fcsr")
		elif op in ("fadd", "fsub", "fmul", "fdiv"):
			u.add("%s.%s f%d, f%d, f%d%s" % (op, k, d, a, b, self.rm()), "f%d" % d, "fcsr")
		else:
			u.add("%s.%s f%d, f%d, f%d" % (op, k, d, a, b), "f%d" % d, "fcsr")
		return u

	def u_fp_fma(self, depth):
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		op = r.choice(["fmadd", "fmsub", "fnmsub", "fnmadd"])
		a, b, c = self.fsrc(k), self.fsrc(k), self.fsrc(k)
		d = self.fdst(k)
		u.add("%s.%s f%d, f%d, f%d, f%d%s" % (op, k, d, a, b, c, self.rm()), "f%d" % d, "fcsr")
		return u

	def u_fp_cvt(self, depth):
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		i = r.choice(["w", "wu", "l", "lu"])
		kind = r.randrange(3)
		if kind == 0:
			d = self.dst()
			u.add("fcvt.%s.%s x%d, f%d%s" % (i, k, d, self.fsrc(k), self.rm()), "x%d" % d,
			      "fcsr")
		elif kind == 1:
			rm = "" if k == "d" and i in ("w", "wu") else self.rm()
			d = self.fdst(k)
			u.add("fcvt.%s.%s f%d, x%d%s" % (k, i, d, self.src(), rm), "f%d" % d, "fcsr")
		elif k == "s":
			a = self.fsrc("d")
			d = self.fdst("s")
			u.add("fcvt.s.d f%d, f%d%s" % (d, a, self.rm()), "f%d" % d, "fcsr")
		else:
			a = self.fsrc("s")
			d = self.fdst("d")
			u.add("fcvt.d.s f%d, f%d" % (d, a), "f%d" % d, "fcsr")
		return u

	def u_fp_cmp(self, depth):
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		d = self.dst()
		if r.random() < 0.3:
			u.add("fclass.%s x%d, f%d" % (k, d, self.fsrc(k)), "x%d" % d)
		else:
			op = r.choice(["feq", "flt", "fle"])
			u.add("%s.%s x%d, f%d, f%d" % (op, k, d, self.fsrc(k), self.fsrc(k)), "x%d" % d,
			      "fcsr")
		return u

	def u_fp_mv(self, depth):
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		w = "w" if k == "s" else "d"
		if r.random() < 0.5:
			d = self.dst()
			u.add("fmv.x.%s x%d, f%d" % (w, d, self.fsrc(k)), "x%d" % d)
		else:
			d = self.fdst(k)
			u.add("fmv.%s.x f%d, x%d" % (w, d, self.src()), "f%d" % d)
		return u

	def u_fp_mem(self, depth):
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		size = 4 if k == "s" else 8
		c = self.want_c() and k == "d"
		if r.random() < 0.5:
			base, off = self.mem_slot(size, False, c)
			d = self.fdst(k, c and base == 8)
			u.add("fl%s f%d, %d(x%d)" % ("w" if k == "s" else "d", d, off, base), "f%d" % d)
		else:
			base, off = self.mem_slot(size, True, c)
			s = self.rng.choice(range(8, 16)) if c and base == 8 else self.fsrc(k)
			u.add("fs%s f%d, %d(x%d)" % ("w" if k == "s" else "d", s, off, base),
			      self.store_target(base, off, size))
		return u

	def u_fp_pool(self, depth):
		u = Unit()
		r = self.rng
		if r.random() < 0.5:
			d = self.fdst("d")
			u.add("fld f%d, %d(x8)" % (d, POOL_F64 + 8 * r.randrange(32)), "f%d" % d)
		else:
			d = self.fdst("s")
			u.add("flw f%d, %d(x8)" % (d, POOL_F32 + 4 * r.randrange(32)), "f%d" % d)
		return u

	def fbits(self, k, sign, e, frac):
		"""Bit pattern of (-1)^sign * 1.frac * 2^e in format k ('s' or 'd')."""
		mb, bias = (23, 127) if k == "s" else (52, 1023)
		return sign << (mb + 8 + (3 if k == "d" else 0)) | (e + bias) << mb | frac

	def fload(self, u, k, bits):
		"""Put bits in a fresh f register through an integer register."""
		t = self.tmp()
		d = self.fdst(k)
		u.add("li x%d, %d" % (t, s64(bits)), "x%d" % t)
		u.add("fmv.%s.x f%d, x%d" % ("w" if k == "s" else "d", d, t), "f%d" % d)
		return d

	def u_hint(self, depth):
		"""Compressed HINT encodings (rd = x0, zero immediates): they must do nothing."""
		u = Unit()
		r = self.rng
		imm = r.choice([i for i in range(-32, 32) if i])
		ib = (imm & 31) << 2 | (imm >> 5 & 1) << 12
		reg = r.randint(1, 31)
		cr = r.randint(8, 15)
		insn, what = r.choice([
			(0x0001 | ib, "c.addi x0, %d" % imm),
			(0x0001 | reg << 7, "c.addi x%d, 0" % reg),
			(0x4001 | ib, "c.li x0, %d" % imm),
			(0x6001 | ib, "c.lui x0, %d" % imm),
			(0x8002 | reg << 2, "c.mv x0, x%d" % reg),
			(0x9002 | reg << 2, "c.add x0, x%d" % reg),
			(0x0002 | (abs(imm) & 31) << 2, "c.slli x0, %d" % (abs(imm) & 31)),
			(0x0002 | reg << 7, "c.slli x%d, 0" % reg),
			(0x8001 | (cr - 8) << 7, "c.srli x%d, 0" % cr),
			(0x8401 | (cr - 8) << 7, "c.srai x%d, 0" % cr),
		])
		u.add(".2byte 0x%04x\t/* %s */" % (insn, what))
		return u

	def u_far(self, depth):
		"""Branch and jump offsets near the ends of their ranges, forward and backward."""
		u = Unit()
		r = self.rng
		mid, back, out = self.newlabel(), self.newlabel(), self.newlabel()
		gap = r.choice([r.randint(1000, 2040), r.randint(2040, 2060), r.randint(3900, 4080)])
		gap &= ~1
		u.add("j %s" % mid)
		u.add(back + ":")
		u.add("j %s" % out)
		u.add(".skip %d" % gap)
		u.add(mid + ":")
		if self.want_c():
			u.add("%s x%d, %s" % (r.choice(["beqz", "bnez"]), self.src(True), back))
		else:
			u.add("%s x%d, x%d, %s" % (r.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"]),
						  self.src(), self.src(), back))
		u.add(out + ":")
		return u

	def u_fp_tie(self, depth):
		"""Operands whose exact result lies on or next to a rounding boundary: ties, carry
		into the exponent, the underflow and overflow edges, integer limits. Wrapped
		like u_fp_probe so the flags show."""
		u = Unit()
		r = self.rng
		k = r.choice("sd")
		p, mb, emin, emax = (24, 23, -126, 127) if k == "s" else (53, 52, -1022, 1023)
		ones = (1 << mb) - 1
		rm = ", " + r.choice(RMS[:5]) if r.random() < 0.8 else ""
		u.add("fsflags x0", "fcsr")
		kind = r.randrange(6)
		if kind <= 1:
			# a + b or a*1 + b with b half an ulp of a (or just off it).
			e = r.choice([r.randint(-20, 20), emax, emin + p])
			frac = ones if r.random() < 0.2 else r.getrandbits(mb)
			a = self.fload(u, k, self.fbits(k, r.getrandbits(1), e, frac))
			near = r.choice([0, 0, r.getrandbits(mb) | 1])
			b = self.fload(u, k, self.fbits(k, r.getrandbits(1), e - p, near))
			d = self.fdst(k)
			if kind == 0:
				op = r.choice(["fadd", "fsub"])
				u.add("%s.%s f%d, f%d, f%d%s" % (op, k, d, a, b, rm), "f%d" % d, "fcsr")
			else:
				one = self.fload(u, k, self.fbits(k, r.getrandbits(1), 0, 0))
				op = r.choice(["fmadd", "fmsub", "fnmadd", "fnmsub"])
				u.add("%s.%s f%d, f%d, f%d, f%d%s" % (op, k, d, a, one, b, rm), "f%d" % d,
				      "fcsr")
		elif kind == 2:
			# Products at the bottom of the normal range (tininess after rounding).
			a = self.fload(u, k, self.fbits(k, r.getrandbits(1), emin,
							 r.choice([0, r.getrandbits(mb)])))
			b = self.fload(u, k, self.fbits(k, 0, -1, r.choice([ones, ones - 1,
									   r.getrandbits(mb)])))
			d = self.fdst(k)
			u.add("fmul.%s f%d, f%d, f%d%s" % (k, d, a, b, rm), "f%d" % d, "fcsr")
		elif kind == 3 and k == "s":
			# fcvt.s.d of a double halfway between two singles (also subnormal ones).
			e = r.choice([r.randint(-20, 20), r.randint(-150, -120), 127])
			frac = r.getrandbits(23) << 29 | 1 << 28 | r.choice([0, 0, r.getrandbits(28)])
			a = self.fload(u, "d", self.fbits("d", r.getrandbits(1), e, frac))
			d = self.fdst("s")
			u.add("fcvt.s.d f%d, f%d%s" % (d, a, rm), "f%d" % d, "fcsr")
		elif kind <= 3:
			# Integer to float with the dropped bits a tie (or just off it).
			sh = r.randint(1, 63 - p)
			n = (r.getrandbits(p - 1) | 1 << (p - 1)) << sh | 1 << (sh - 1)
			if r.random() < 0.3:
				n |= r.getrandbits(sh - 1) if sh > 1 else 0
			op = "lu" if n >> 63 else r.choice(["l", "lu"])
			if op == "l" and r.random() < 0.5:
				n = -n
			t = self.tmp()
			u.add("li x%d, %d" % (t, s64(n)), "x%d" % t)
			d = self.fdst(k)
			u.add("fcvt.%s.%s f%d, x%d%s" % (k, op, d, t, rm), "f%d" % d, "fcsr")
		else:
			# Float to integer at halves and at the limits of each integer type.
			op = r.choice(["w", "wu", "l", "lu"])
			bits = {"w": 31, "wu": 32, "l": 63, "lu": 64}[op]
			lo, hi = (-(1 << bits), (1 << bits) - 1) if op in ("w", "l") else (0, (1 << bits) - 1)
			base = r.choice([lo, hi + 1, 0, r.randint(-1000, 1000)])
			v = base + r.choice([-1, -0.5, 0, 0.5, 1, 1.5, -1.5])
			x = struct.unpack("<Q", struct.pack("<d", v))[0] if k == "d" else \
				struct.unpack("<I", struct.pack("<f", v))[0]
			a = self.fload(u, k, x)
			d = self.dst()
			u.add("fcvt.%s.%s x%d, f%d%s" % (op, k, d, a, rm), "x%d" % d, "fcsr")
		d = self.dst()
		u.add("frflags x%d" % d, "x%d" % d)
		return u

	def u_fcsr(self, depth):
		u = Unit()
		r = self.rng
		k = r.randrange(10)
		d = self.dst()
		if k == 0:
			u.add("frflags x%d" % d, "x%d" % d)
		elif k == 1:
			u.add("fsflags x%d, x%d" % (d, self.src()), "x%d" % d, "fcsr")
		elif k == 2:
			u.add("csrw fflags, x0", "fcsr")
		elif k == 3:
			op = r.choice(["csrrci", "csrrsi", "csrrwi"])
			u.add("%s x%d, fflags, %d" % (op, d, r.randrange(32)), "x%d" % d, "fcsr")
		elif k == 4:
			u.add("frrm x%d" % d, "x%d" % d)
		elif k == 5:
			u.add("fsrmi x%d, %d" % (d, r.randrange(5)), "x%d" % d, "fcsr")
		elif k == 6:
			t = self.dst()
			while t == 0:
				t = self.dst()
			u.add("li x%d, %d" % (t, r.randrange(5) | (r.getrandbits(8) << 3)), "x%d" % t)
			u.add("fsrm x%d, x%d" % (d, t), "x%d" % d, "fcsr")
		elif k == 7:
			u.add("frcsr x%d" % d, "x%d" % d)
		elif k == 8:
			t = self.dst()
			while t == 0:
				t = self.dst()
			v = (r.randrange(5) << 5) | r.randrange(32) | (r.getrandbits(8) << 8 if r.random() < 0.3 else 0)
			u.add("li x%d, %d" % (t, v), "x%d" % t)
			u.add("fscsr x%d, x%d" % (d, t), "x%d" % d, "fcsr")
		else:
			# Clearing bits of a valid rounding mode (0..4) always leaves a valid one.
			u.add("csrrc x%d, frm, x%d" % (d, self.src()), "x%d" % d, "fcsr")
		return u

	def u_fp_probe(self, depth):
		"""Clear fflags, do one FP operation, read the flags it raised."""
		u = Unit()
		r = self.rng
		u.add(r.choice(["fsflags x0", "csrw fflags, x0", "csrrci x0, fflags, 31"]), "fcsr")
		u.extend(r.choice([self.u_fp_arith, self.u_fp_fma, self.u_fp_cvt, self.u_fp_cmp])(0))
		d = self.dst()
		u.add("frflags x%d" % d, "x%d" % d)
		return u

	def u_fence(self, depth):
		u = Unit()
		u.add(self.rng.choice(["fence", "fence rw, rw", "fence r, w", "fence.tso", "fence.i",
				       "nop"]))
		return u

	def u_sp_adjust(self, depth):
		"""c.addi16sp there and back, and c.addi4spn (rd' = sp + nzuimm)."""
		u = Unit()
		r = self.rng
		if r.random() < 0.5:
			k = 16 * r.choice([i for i in range(-32, 32) if i])
			u.add("addi sp, sp, %d" % k)
			u.add("addi sp, sp, %d" % -k)
		else:
			d = self.dst(True)
			u.add("addi x%d, sp, %d" % (d, 4 * r.randrange(1, 256)), "x%d" % d)
		return u

	def block(self, depth, n):
		u = Unit()
		for _ in range(n):
			u.extend(self.pick(depth))
		return u

	def u_branch(self, depth):
		u = Unit()
		r = self.rng
		L = self.newlabel()
		if self.want_c():
			u.add("%s x%d, %s" % (r.choice(["beqz", "bnez"]), self.src(True), L))
		else:
			op = r.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"])
			a = self.src()
			b = a if r.random() < 0.1 else self.src()
			u.add("%s x%d, x%d, %s" % (op, a, b, L))
		u.extend(self.block(depth - 1, r.randint(1, 4)))
		u.add(L + ":")
		return u

	def u_jal(self, depth):
		u = Unit()
		r = self.rng
		L = self.newlabel()
		d = r.choice([0, 0, 1, self.dst()])
		if d in self.avoid:
			d = 0
		if d == 0:
			u.add("j %s" % L)		# only the alias compresses to c.j
		else:
			u.add("jal x%d, %s" % (d, L), "x%d" % d)
		u.extend(self.block(depth - 1, r.randint(1, 3)))
		u.add(L + ":")
		return u

	def u_jalr(self, depth):
		u = Unit()
		r = self.rng
		L = self.newlabel()
		t = self.dst()
		while t == 0:
			t = self.dst()
		k = r.choice([0, 0, 1, 8, -8, 2047])
		# jalr clears bit 0 of the sum: with k == 1 the sum is L + 1.
		u.add("lla x%d, %s%+d" % (t, L, 0 if k == 1 else -k), "x%d" % t)
		d = r.choice([0, 1, t, self.dst()])
		if d in self.avoid:
			d = 0
		if k == 0 and d in (0, 1):
			u.add("%s x%d" % ("jr" if d == 0 else "jalr", t), "x%d" % d)	# c.jr, c.jalr
		else:
			u.add("jalr x%d, %d(x%d)" % (d, k, t), "x%d" % d)
		u.extend(self.block(0, r.randint(1, 3)))
		u.add(L + ":")
		return u

	def u_loop(self, depth):
		u = Unit()
		r = self.rng
		L = self.newlabel()
		c = self.dst(self.want_c())
		while c == 0:
			c = self.dst()
		u.add("li x%d, %d" % (c, r.randint(1, 3)), "x%d" % c)
		u.add(L + ":")
		saved = set(self.avoid)
		self.avoid.add(c)
		u.extend(self.block(1, r.randint(1, 4)))
		self.avoid = saved
		u.add("addi x%d, x%d, -1" % (c, c), "x%d" % c)
		u.add("bnez x%d, %s" % (c, L))
		return u

	# ---- output ----------------------------------------------------------------------------

	def render(self, keep=None):
		"""Assembly text for the units in `keep` (all by default) and the last-writer map."""
		out = ["/* Generated by tests/diff/gen.py; do not edit. */",
		       "\t.option norelax",
		       "\t.option %s" % ("rvc" if self.rvc else "norvc"),
		       "\t.section .text.body, \"ax\"",
		       "\t.globl diff_body",
		       "diff_body:",
		       "\tj 1f",
		       "\t.skip %d\t/* moves the body across page boundaries */" % self.skip,
		       "1:"]
		last = {}
		membyte = [None] * BUF		# (sequence number, text) of the last store
		seq = 0
		snaps = []			# unit index of each snapshot
		for i, u in enumerate(self.units):
			if keep is not None and i not in keep:
				continue
			out.append("\t/* unit %d */" % i)
			lines = u.lines
			if self.snap:
				snaps.append(i)
				lines = lines + [("sd x1, %d(x8)" % SNAP_RA, []),
						 ("jal x1, diff_snap", []),
						 ("ld x1, %d(x8)" % SNAP_RA, [])]
			for text, writes in lines:
				if text.endswith(":"):
					out.append(text)
					continue
				out.append("\t" + text)
				seq += 1
				for w in writes:
					if isinstance(w, tuple):
						for b in range(w[0], w[0] + w[1]):
							membyte[b] = (seq, text)
					else:
						last[w] = text
		out.append("\tj diff_after_body")
		out.append("\t.section .data.diff, \"aw\"")
		out.append("\t.balign 8")
		out.append("\t.globl diff_mode")
		out.append("diff_mode:")
		out.append("\t.dword %d" % self.mode)
		out.append("\t.globl diff_init")
		out.append("diff_init:")
		for v in self.init_x + self.init_f:
			out.append("\t.dword 0x%016x" % v)
		out.append("\t.balign 4096")
		out.append("\t.skip 4096 - 256\t/* sp = x8 + 256 is on a page boundary */")
		out.append("\t.globl diff_buf")
		out.append("diff_buf:")
		for i in range(0, BUF, 16):
			out.append("\t.byte " + ", ".join("0x%02x" % b for b in self.buf[i:i + 16]))
		for v in self.pool_ints:
			out.append("\t.dword 0x%016x" % v)
		for v in self.f64s:
			out.append("\t.dword 0x%016x" % v)
		for v in self.f32s:
			out.append("\t.word 0x%08x" % v)
		out.append("\t.zero 512\t/* register dump */")
		out.append("\t.zero %d\t/* saved x1, snapshot count and log */" % (16 + 8 * len(snaps)))
		out.append("\t.balign 8")
		out.append("diff_code:\t/* u_smc writes an instruction and a return here */")
		out.append("\t.zero 8")
		meta = {"last": last, "membyte": membyte, "snaps": snaps,
			"units": [u.lines for u in self.units]}
		return "\n".join(out) + "\n", meta


# ---- building, running, comparing --------------------------------------------------------------


def sh(cmd, **kw):
	return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def build_harnesses(out):
	"""Assemble harness.S for both sides once; returns (linux.o, bare.o)."""
	objs = []
	for name, defs in (("harness-linux.o", []), ("harness-bare.o", ["-DDIFF_BARE"])):
		o = os.path.join(out, name)
		src = os.path.join(HERE, "harness.S")
		if not os.path.exists(o) or os.path.getmtime(o) < os.path.getmtime(src):
			r = sh([CROSS + "gcc", "-c", "-march=rv64gc", "-mabi=lp64d"] + defs +
			       ["-o", o, src])
			if r.returncode:
				raise RuntimeError("assembling harness.S failed:\n" + r.stderr.decode())
		objs.append(o)
	return objs


def build(out, name, text, harness):
	"""Write NAME.S, assemble and link NAME.qemu / NAME.lodge; returns the two paths."""
	src = os.path.join(out, name + ".S")
	with open(src, "w") as f:
		f.write(text)
	obj = os.path.join(out, name + ".o")
	r = sh([CROSS + "gcc", "-c", "-march=rv64gc", "-mabi=lp64d", "-o", obj, src])
	if r.returncode:
		raise RuntimeError("assembling %s failed:\n%s" % (src, r.stderr.decode()))
	elfs = []
	for h, suffix in zip(harness, ("qemu", "lodge")):
		elf = os.path.join(out, "%s.%s" % (name, suffix))
		r = sh([CROSS + "gcc", "-nostdlib", "-nostartfiles", "-static", "-march=rv64gc",
			"-mabi=lp64d", "-Wl,--no-relax", "-T", os.path.join(HERE, "link.ld"),
			"-o", elf, h, obj])
		if r.returncode:
			raise RuntimeError("linking %s failed:\n%s" % (elf, r.stderr.decode()))
		elfs.append(elf)
	return elfs


def run_one(cmd, timeout):
	"""Run an emulator; returns (dump lines or None, error text)."""
	try:
		r = sh(cmd, timeout=timeout)
	except subprocess.TimeoutExpired:
		return None, "timed out after %ds" % timeout
	except OSError as e:
		return None, "cannot run %s: %s" % (cmd[0], e.strerror)
	text = r.stdout.decode("latin-1").replace("\r", "")
	m = re.search(r"DIFF-BEGIN\n(.*?)DIFF-END\n", text, re.S)
	t = re.search(r"DIFF-TRAP.*\n(\w+)\n(\w+)\n(\w+)\n", text)
	if t:
		cause = int(t.group(1), 16)
		return None, "trap: %s (mcause %d) at pc 0x%x%s, mtval 0x%x" % (
			CAUSES.get(cause, "?"), cause, int(t.group(2), 16), insn_at(cmd, t.group(2)),
			int(t.group(3), 16))
	if not m:
		err = r.stderr.decode("latin-1").strip().splitlines()
		return None, "no dump (exit status %d%s)" % (r.returncode,
							    ": " + err[-1] if err else "")
	return m.group(1).splitlines(), ""


CAUSES = {0: "instruction address misaligned", 1: "instruction access fault",
	  2: "illegal instruction", 3: "breakpoint", 4: "load address misaligned",
	  5: "load access fault", 6: "store address misaligned", 7: "store access fault",
	  8: "ecall from U", 9: "ecall from S", 11: "ecall from M", 12: "instruction page fault",
	  13: "load page fault", 15: "store page fault"}
MODES = ["M-mode", "U-mode Sv39", "S-mode Sv39", "U-mode Sv48"]


def insn_at(cmd, pc):
	"""` (insn)` for the instruction at pc in the ELF of an emulator command, if found."""
	elf = next((c for c in cmd if c.endswith(".lodge") or c.endswith(".qemu")), None)
	if not elf:
		return ""
	a = int(pc, 16)
	r = sh([CROSS + "objdump", "-d", "--start-address=%d" % a, "--stop-address=%d" % (a + 4),
		elf])
	m = re.search(r"^\s*%x:\s+\w+\s+(.*)$" % a, r.stdout.decode(), re.M)
	return " (%s)" % " ".join(m.group(1).split()) if m else ""


def loc_name(i):
	if i < 31:
		return "x%d" % (i + 1)
	if i < 63:
		return "f%d" % (i - 31)
	if i == 63:
		return "fcsr"
	return "buf+%d" % ((i - 64) * 8)


def first_diff(a, b, meta):
	"""None when the dumps agree, else a description of the first difference: the first
	snapshot (unit) whose state hash differs, and the first differing final location."""
	if a == b:
		return None
	where = ""
	la, lb = a[128:], b[128:]
	for j in range(min(len(la), len(lb))):
		if la[j] != lb[j]:
			unit = meta["snaps"][j] if j < len(meta["snaps"]) else None
			if unit is None:
				break
			text = "; ".join(t for t, _ in meta["units"][unit] if not t.endswith(":"))
			if len(text) > 120:
				text = text[:117] + "..."
			where = "state after unit %d differs: `%s`" % (unit, text)
			break
	if len(la) != len(lb) and not where:
		where = "%d snapshots on qemu, %d on lodge" % (len(la), len(lb))
	final = final_diff(a[:128], b[:128], meta)
	if not final:
		return where + " (final registers and buffer agree)"
	return final + ("; " + where if where else "")


def final_diff(a, b, meta):
	if a == b:
		return None
	for i in range(max(len(a), len(b))):
		x = a[i] if i < len(a) else "(missing)"
		y = b[i] if i < len(b) else "(missing)"
		if x == y:
			continue
		name = loc_name(i)
		who = None
		if i < 64:
			who = meta["last"].get(name)
		elif i - 64 < BUF // 8:
			off = (i - 64) * 8
			writers = [w for w in meta["membyte"][off:off + 8] if w]
			who = max(writers)[1] if writers else None
		msg = "%s qemu=%s lodge=%s" % (name, x, y)
		return msg + (" (last written by `%s`)" % who if who else " (initial value)")
	return None


def compare(gen, keep, out, name, harness, lodge, timeout):
	"""Build and run one program on both sides. Returns (diff or None, setup error)."""
	text, meta = gen.render(keep)
	qelf, lelf = build(out, name, text, harness)
	q, err = run_one([QEMU, qelf], timeout)
	if q is None:
		return None, "qemu: " + err
	if lodge is None:
		return None, None
	# Both execution engines must match the reference: the JIT (translating at once, so
	# that code run once is translated too) and the interpreter alone.
	for flags in (["--jit-hot", "1"], ["--no-jit"]):
		l, err = run_one([lodge, "run", "--bare", lelf, "--timeout", str(timeout)] + flags,
				 timeout + 5)
		if l is None:
			return "lodge %s (body in %s): %s" % (flags[0], MODES[gen.mode], err), None
		diff = first_diff(q, l, meta)
		if diff:
			return "%s (lodge %s)" % (diff, " ".join(flags)), None
	return None, None


def parse_seeds(spec):
	seeds = []
	for part in spec.split(","):
		if "-" in part:
			a, b = part.split("-")
			seeds += range(int(a), int(b) + 1)
		elif part:
			seeds.append(int(part))
	return seeds


def run_seed(args, harness, seed):
	"""Compares one seed's program; returns its result line and whether it failed."""
	name = "seed%d" % seed
	gen = Gen(seed, args.insns, mode=args.mode)
	try:
		diff, err = compare(gen, None, args.out, name, harness, args.lodge, args.timeout)
	except RuntimeError as e:
		diff, err = None, str(e)
	if err:
		return "FAIL: diff.%s: %s" % (name, err), True
	if diff:
		return ("FAIL: diff.%s: %s%s; artifacts: %s/%s.*" %
			(name, "" if diff.startswith("lodge") else "first difference: ", diff,
			 args.out, name)), True
	if not args.keep:
		for suffix in (".S", ".o", ".qemu", ".lodge"):
			try:
				os.remove(os.path.join(args.out, name + suffix))
			except OSError:
				pass
	return "PASS: diff.%s%s" % (name, "" if args.lodge else " (qemu only)"), False


def cmd_run(args):
	"""Each seed on its own (own file names), DIFF_JOBS at a time (default: the host's
	CPUs, at most 4); the lines come out in seed order. --first-fail: the seeds after the
	first that fails are not run (those already running end, unreported)."""
	os.makedirs(args.out, exist_ok=True)
	harness = build_harnesses(args.out)
	jobs = int(os.environ.get("DIFF_JOBS") or min(os.cpu_count() or 1, 4))
	failed = 0
	with concurrent.futures.ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
		futures = [pool.submit(run_seed, args, harness, seed) for seed in parse_seeds(args.seeds)]
		for f in futures:
			line, bad = f.result()
			print(line)
			failed += bad
			sys.stdout.flush()
			if bad and args.first_fail:
				for rest in futures:
					rest.cancel()
				break
	return 1 if failed else 0


def cmd_selftest(args):
	"""The suite is not vacuous: qemu runs a program and prints a full dump, and the
	comparison notices one changed value and a different program."""
	os.makedirs(args.out, exist_ok=True)
	try:
		harness = build_harnesses(args.out)
		dumps = []
		for seed in (1, 2):
			gen = Gen(seed, args.insns)
			text, meta = gen.render()
			qelf, _ = build(args.out, "selftest%d" % seed, text, harness)
			d, err = run_one([QEMU, qelf], args.timeout)
			if d is None:
				raise RuntimeError("qemu: " + err)
			dumps.append((d, meta))
	except RuntimeError as e:
		print("FAIL: diff.selftest: %s" % e)
		return 1
	(a, meta), (b, _) = dumps
	bad = list(a)
	bad[11] = "%016x" % (int(bad[11], 16) ^ 1 << 40)
	why = None
	if len(a) <= 128 or any(not re.fullmatch("[0-9a-f]{16}", x) for x in a):
		why = "qemu dump is malformed"
	elif first_diff(a, list(a), meta) is not None:
		why = "identical dumps compare different"
	elif not (first_diff(a, bad, meta) or "").startswith("x12 qemu="):
		why = "a changed x12 is not reported: %s" % first_diff(a, bad, meta)
	elif first_diff(a, b, meta) is None:
		why = "seeds 1 and 2 give the same dump"
	print("FAIL: diff.selftest: " + why if why else "PASS: diff.selftest")
	return 1 if why else 0


def cmd_gen(args):
	os.makedirs(args.out, exist_ok=True)
	text, _ = Gen(args.seed, args.insns, mode=args.mode).render()
	path = os.path.join(args.out, "seed%d.S" % args.seed)
	with open(path, "w") as f:
		f.write(text)
	print(path)
	return 0


def cmd_minimize(args):
	"""Delta debugging over units: the smallest subset that still differs."""
	os.makedirs(args.out, exist_ok=True)
	harness = build_harnesses(args.out)
	gen = Gen(args.seed, args.insns, mode=args.mode)
	name = "min%d" % args.seed

	def fails(keep):
		try:
			diff, err = compare(gen, set(keep), args.out, name, harness, args.lodge,
					    args.timeout)
		except RuntimeError:
			return None
		return diff if not err else None

	keep = list(range(len(gen.units)))
	diff = fails(keep)
	if not diff:
		print("seed %d does not fail" % args.seed)
		return 1
	n = 2
	while len(keep) >= 2:
		chunk = (len(keep) + n - 1) // n
		reduced = False
		for i in range(0, len(keep), chunk):
			trial = keep[:i] + keep[i + chunk:]
			d = fails(trial)
			if d:
				keep, diff = trial, d
				n = max(n - 1, 2)
				reduced = True
				break
		if not reduced:
			if chunk == 1:
				break
			n = min(n * 2, len(keep))
	d = fails([])
	if d:
		print("fails with an empty body, so in the harness or machine setup: %s" % d)
		print("program: %s/%s.S" % (args.out, name))
		return 0
	fails(keep)
	print("minimal: %d unit(s); first difference: %s" % (len(keep), diff))
	print("program: %s/%s.S" % (args.out, name))
	used = set()
	for i in keep:
		for text, _ in gen.units[i].lines:
			print("    " + text)
			used.update(re.findall(r"\b([xf]\d+)\b", text))
	init = []
	for reg in sorted(used, key=lambda s: (s[0], int(s[1:]))):
		n = int(reg[1:])
		if reg[0] == "x" and n not in (0, 2, 8):
			init.append("%s=0x%016x" % (reg, gen.init_x[n - 1]))
		elif reg[0] == "f":
			init.append("%s=0x%016x" % (reg, gen.init_f[n]))
	print("initial values: " + " ".join(init))
	print("(x8 = buffer, x2 = buffer + 256, fcsr = 0; buffer bytes in the program)")
	return 0


def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	sub = ap.add_subparsers(dest="cmd", required=True)
	p = sub.add_parser("run", help="build, run on qemu and lodge, compare: one line a seed")
	p.add_argument("--seeds", default="1-40", help="e.g. 17, 1-40, 1,5,9")
	p.add_argument("--lodge", help="lodge binary (without it, only qemu runs)")
	p.add_argument("--keep", action="store_true", help="keep passing programs too")
	p.add_argument("--timeout", type=int, default=10, help="seconds per emulator run")
	p.add_argument("--first-fail", action="store_true",
		       help="stop at the first seed that differs (the mutation check)")
	p = sub.add_parser("selftest", help="check that qemu runs and differences are seen")
	p.add_argument("--timeout", type=int, default=10)
	p = sub.add_parser("gen", help="only write OUT/seedN.S")
	p.add_argument("--seed", type=int, required=True)
	p = sub.add_parser("minimize", help="shrink a failing seed to the units that matter")
	p.add_argument("--seed", type=int, required=True)
	p.add_argument("--lodge", required=True)
	p.add_argument("--timeout", type=int, default=10)
	for p in sub.choices.values():
		p.add_argument("--out", default="build/diff", help="work directory")
		p.add_argument("--insns", type=int, default=400, help="instructions a program")
		p.add_argument("--mode", type=int, choices=range(4),
			       help="bare side: 0 M-mode, 1 U Sv39, 2 S Sv39, 3 U Sv48 (default: by seed)")
	args = ap.parse_args()
	cmds = {"run": cmd_run, "selftest": cmd_selftest, "gen": cmd_gen, "minimize": cmd_minimize}
	return cmds[args.cmd](args)


if __name__ == "__main__":
	sys.exit(main())
