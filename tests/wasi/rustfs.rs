// rustfs: a Rust std program (wasm32-wasi, Debian's rustc and libstd-rust-dev-wasm32) using
// the file system as programs do, in the empty preopen /box. Prints one line per step, "ok"
// or the raw WASI errno of the error; tests/wasi/suite.sh compares the output with
// rustfs.expected, which holds the answers of the preview1 text: ENOTCAPABLE (76) for a
// missing right, EISDIR (31) for reading, writing or opening a directory for writing,
// ENOENT (44) for a new name "x/" with no x, and the sandbox refusing links to absolute
// targets. The ordinary steps around them (create, append, rename, read_dir, set_len,
// metadata) must keep working under the rights checks.
#![feature(wasi_ext)]
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::wasi::fs::{symlink_path, FileExt};
use std::os::wasi::io::AsRawFd;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn fd_fdstat_get(fd: i32, out: *mut u8) -> i32;
}

// The fd's base rights (std has no call for them).
fn rights_base(f: &File) -> u64 {
    let mut st = [0u8; 24];
    assert_eq!(unsafe { fd_fdstat_get(f.as_raw_fd() as i32, st.as_mut_ptr()) }, 0);
    u64::from_le_bytes(st[8..16].try_into().unwrap())
}

fn show<T>(what: &str, r: io::Result<T>) {
    match r {
        Ok(_) => println!("{what}: ok"),
        Err(e) => println!("{what}: errno {}", e.raw_os_error().unwrap_or(-1)),
    }
}

fn main() {
    show("create_dir_all", fs::create_dir_all("/box/a/b"));
    show("write", fs::write("/box/a/b/f.txt", b"hello"));
    show(
        "append",
        OpenOptions::new()
            .append(true)
            .open("/box/a/b/f.txt")
            .and_then(|mut f| f.write_all(b", world")),
    );
    match fs::read_to_string("/box/a/b/f.txt") {
        Ok(s) => println!("read_to_string: {s}"),
        Err(e) => println!("read_to_string: errno {}", e.raw_os_error().unwrap_or(-1)),
    }
    show("rename", fs::rename("/box/a/b/f.txt", "/box/a/f.txt"));
    let mut names: Vec<String> = fs::read_dir("/box/a")
        .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default();
    names.sort();
    println!("read_dir /box/a: {}", names.join(" "));
    show("metadata dir", fs::metadata("/box/a").map(|m| assert!(m.is_dir())));

    // a file opened for reading: no writing, no truncating, but seeking
    let mut r = File::open("/box/a/f.txt").unwrap();
    show("read-only: write", r.write(b"x"));
    show("read-only: set_len", r.set_len(0));
    show("read-only: seek", r.seek(SeekFrom::Start(7)));
    let mut s = String::new();
    show("read-only: read", r.read_to_string(&mut s));
    println!("read-only: read gives {s}");
    // rights dropped are gone
    let base = rights_base(&r);
    println!("read-only: write right {}", base & 64 != 0);
    show("drop read right", r.fdstat_set_rights(base & !2, 0));
    show("read without the right", r.read(&mut [0u8; 4]));
    show("add it back", r.fdstat_set_rights(base, 0));
    drop(r);
    // a file opened for writing: set_len works
    let w = OpenOptions::new().write(true).open("/box/a/f.txt").unwrap();
    show("write-only: set_len", w.set_len(5));
    show("write-only: read", (&w).read(&mut [0u8; 4]));
    drop(w);
    show("size after set_len", fs::metadata("/box/a/f.txt").map(|m| assert_eq!(m.len(), 5)));

    // a directory cannot be read, written, seeked, nor opened for writing
    let mut d = File::open("/box/a").unwrap();
    show("dir: read", d.read(&mut [0u8; 4]));
    show("dir: write", d.write(b"x"));
    show("dir: seek", d.seek(SeekFrom::Current(0)));
    show("dir: stream_position", d.stream_position());
    show("dir: set_len", d.set_len(0));
    show("dir: open for writing", OpenOptions::new().write(true).open("/box/a"));

    // trailing slashes and link targets
    show("symlink to target/", symlink_path("x", "/box/target/"));
    show("hard_link to link/", fs::hard_link("/box/a/f.txt", "/box/link/"));
    show("remove_file dir/", fs::remove_file("/box/a/b/"));
    show("remove_file dir", fs::remove_file("/box/a/b"));
    show("symlink to /", symlink_path("/", "/box/root"));
    show("symlink to /etc/passwd", symlink_path("/etc/passwd", "/box/pw"));
    show("symlink_metadata root", fs::symlink_metadata("/box/root"));
    show("symlink to f.txt", symlink_path("f.txt", "/box/a/l"));
    match fs::read_to_string("/box/a/l") {
        Ok(s) => println!("read through the link: {s}"),
        Err(e) => println!("read through the link: errno {}", e.raw_os_error().unwrap_or(-1)),
    }
    show("remove_dir_all", fs::remove_dir_all("/box/a"));
}
