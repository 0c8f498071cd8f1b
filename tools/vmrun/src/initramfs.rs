//! The guest initramfs: busybox and a small `/init`, written as an
//! uncompressed `newc` cpio archive (the kernel unpacks it as is).

use std::io::{self, Write};
use std::path::Path;

/// The guest's PID 1. It mounts the host root over 9p and runs the
/// scenario runner inside it.
pub const INIT_SCRIPT: &str = include_str!("../guest/init.sh");

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const S_IFLNK: u32 = 0o120000;

/// Writes a `newc` archive entry by entry.
pub struct CpioWriter<W: Write> {
    out: W,
    next_inode: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            next_inode: 1,
            written: 0,
        }
    }

    pub fn dir(&mut self, name: &str) -> io::Result<()> {
        self.entry(name, S_IFDIR | 0o755, 0, &[])
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.entry(name, S_IFREG | mode, 0, data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.entry(name, S_IFLNK | 0o777, 0, target.as_bytes())
    }

    pub fn char_device(&mut self, name: &str, major: u32, minor: u32) -> io::Result<()> {
        self.entry(name, S_IFCHR | 0o600, (major << 8) | minor, &[])
    }

    /// Writes the trailer and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, 0, &[])?;
        Ok(self.out)
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: u32, data: &[u8]) -> io::Result<()> {
        let inode = self.next_inode;
        self.next_inode += 1;
        let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
        let namesize = name.len() + 1;
        let header = format!(
            "070701{inode:08X}{mode:08X}{uid:08X}{gid:08X}{nlink:08X}{mtime:08X}{size:08X}\
             {devmajor:08X}{devminor:08X}{rdevmajor:08X}{rdevminor:08X}{namesize:08X}{check:08X}",
            uid = 0,
            gid = 0,
            mtime = 0,
            size = data.len(),
            devmajor = 0,
            devminor = 0,
            rdevmajor = rdev >> 8,
            rdevminor = rdev & 0xff,
            check = 0,
        );
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// newc aligns headers and file data to 4 bytes.
    fn pad(&mut self) -> io::Result<()> {
        let fill = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..fill])
    }
}

/// Builds the initramfs from the host's static busybox.
pub fn build(busybox: &Path, out: &Path) -> io::Result<()> {
    let busybox_binary = std::fs::read(busybox).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "{}: {e} (install busybox-static: make setup)",
                busybox.display()
            ),
        )
    })?;
    let mut cpio = CpioWriter::new(io::BufWriter::new(std::fs::File::create(out)?));
    for dir in ["bin", "dev", "proc", "sys", "host", "hostraw", "tmp"] {
        cpio.dir(dir)?;
    }
    // The kernel opens /dev/console for init before anything is mounted.
    cpio.char_device("dev/console", 5, 1)?;
    cpio.file("bin/busybox", 0o755, &busybox_binary)?;
    cpio.symlink("bin/sh", "busybox")?;
    cpio.file("init", 0o755, INIT_SCRIPT.as_bytes())?;
    cpio.finish()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(header: &[u8], index: usize) -> u32 {
        let start = 6 + index * 8;
        u32::from_str_radix(std::str::from_utf8(&header[start..start + 8]).unwrap(), 16).unwrap()
    }

    #[test]
    fn entries_are_aligned_newc() {
        let mut cpio = CpioWriter::new(Vec::new());
        cpio.dir("bin").unwrap();
        cpio.file("init", 0o755, b"#!/bin/sh\n").unwrap();
        cpio.char_device("dev/console", 5, 1).unwrap();
        let archive = cpio.finish().unwrap();
        assert_eq!(archive.len() % 4, 0);

        // Walk the archive as the kernel does.
        let mut offset = 0;
        let mut names = Vec::new();
        loop {
            let header = &archive[offset..offset + 110];
            assert_eq!(&header[..6], b"070701");
            let size = field(header, 6) as usize;
            let namesize = field(header, 11) as usize;
            let name_start = offset + 110;
            let name =
                std::str::from_utf8(&archive[name_start..name_start + namesize - 1]).unwrap();
            assert_eq!(archive[name_start + namesize - 1], 0);
            let data_start = (name_start + namesize).next_multiple_of(4);
            if name == "init" {
                assert_eq!(&archive[data_start..data_start + size], b"#!/bin/sh\n");
                assert_eq!(field(header, 1), S_IFREG | 0o755);
            }
            if name == "dev/console" {
                assert_eq!(field(header, 1), S_IFCHR | 0o600);
                assert_eq!((field(header, 9), field(header, 10)), (5, 1));
            }
            names.push(name.to_string());
            offset = (data_start + size).next_multiple_of(4);
            if name == "TRAILER!!!" {
                break;
            }
        }
        assert_eq!(offset, archive.len());
        assert_eq!(names, ["bin", "init", "dev/console", "TRAILER!!!"]);
    }

    #[test]
    fn init_script_reports_result() {
        assert!(INIT_SCRIPT.starts_with("#!/bin/busybox sh"));
        assert!(INIT_SCRIPT.contains(crate::console::RESULT_MARKER));
    }
}
