import Foundation

/// Writes outputs so a reader never sees a partial file: regular files go to a temporary name
/// in the same folder and are renamed into place; devices, FIFOs and `/dev/stdout` are written
/// straight through (renaming over a device node would replace it).
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func write(_ data: Data, to path: String) throws {
        if isSpecial(path) {
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw WriteError(description: "\(path): cannot open for writing (\(String(cString: strerror(errno))))")
            }
            defer { try? handle.close() }
            do { try handle.write(contentsOf: data) } catch {
                throw WriteError(description: "\(path): write failed (\(String(cString: strerror(errno))))")
            }
            return
        }
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw WriteError(description: "\(path): folder \(dir) does not exist")
        }
        let temp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw WriteError(description: "\(path): cannot create a file in \(dir) (\(String(cString: strerror(errno))))")
        }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = String(cString: strerror(errno)); return }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temp)
            throw WriteError(description: "\(path): write failed (\(failure))")
        }
        if rename(temp, path) != 0 {
            let why = String(cString: strerror(errno))
            unlink(temp)
            throw WriteError(description: "\(path): cannot move the finished file into place (\(why))")
        }
    }

    /// True for anything that exists and is not a regular file (device, FIFO, socket), and for
    /// the /dev/std* and /proc/self/fd names.
    public static func isSpecial(_ path: String) -> Bool {
        if path.hasPrefix("/dev/") || path.hasPrefix("/proc/self/fd/") { return true }
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) != S_IFREG
    }
}

/// Reads a whole regular file (nil when it cannot be read or is not a regular file). Empty
/// files are answered without reading: Foundation's reader leaks its buffer on a zero-length
/// file (found by running the tests under AddressSanitizer's leak checker).
public func readWholeFile(_ path: String) -> Data? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    guard access(path, R_OK) == 0 else { return nil }
    if st.st_size == 0 { return Data() }
    return FileManager.default.contents(atPath: path)
}

/// 64-bit FNV-1a: a stable hash (the same on every machine and run) for cache keys, settings
/// keys and shard assignment.
public struct FNV1a {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
    }
    public static func hash(_ text: String) -> UInt64 {
        var h = FNV1a()
        h.mix(text.utf8)
        return h.value
    }
}
