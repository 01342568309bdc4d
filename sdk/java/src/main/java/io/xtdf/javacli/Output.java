package io.xtdf.javacli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Where a command writes: standard output (upstream's behaviour), or with {@code -o FILE} a
 * temporary file beside FILE that is renamed onto it by {@link #commit()}; closing without a
 * commit deletes it, so FILE appears whole or not at all.
 */
final class Output implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final OutputStream stream;
    private boolean committed;

    private Output(Path target, Path temp, OutputStream stream) {
        this.target = target;
        this.temp = temp;
        this.stream = stream;
    }

    static Output open(String file) throws IOException {
        if (file == null || file.equals("-")) {
            return new Output(null, null, new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
        }
        Path target = Path.of(file).toAbsolutePath();
        Path dir = target.getParent();
        Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".part");
        return new Output(target, temp, new BufferedOutputStream(Files.newOutputStream(temp), 1 << 16));
    }

    OutputStream stream() {
        return stream;
    }

    void commit() throws IOException {
        stream.flush();
        if (temp != null) {
            stream.close();
            try {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        committed = true;
    }

    @Override
    public void close() throws IOException {
        try {
            stream.close();
        } finally {
            if (temp != null && !committed) {
                Files.deleteIfExists(temp);
            }
        }
    }
}
