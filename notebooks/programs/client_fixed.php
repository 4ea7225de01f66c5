<?php
// client_fixed.php: the seed's client.php with every return value checked.
//
// The seed's client ignores what its calls return, so it cannot tell
//   - the end of the stream ('') from an error (false) - and its `while ($response = ...)`
//     also stops at a piece that is just "0", which PHP counts as false;
//   - a write that reached the server from one the server's kernel answered with RST
//     (it writes its thank-you after the server has closed).
// This version compares with === and says what each call did. It still sends the
// thank-you, because that is the seed's protocol; it then reports whether the
// server's kernel refused it. Usage: php client_fixed.php [HOST] [PORT]
$host = $argv[1] ?? '127.0.0.1';
$port = (int)($argv[2] ?? 65533);
$timeout = ['sec' => 5, 'usec' => 0];

$sock = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
socket_set_option($sock, SOL_SOCKET, SO_RCVTIMEO, $timeout);  // a silent server cannot hang us
socket_set_option($sock, SOL_SOCKET, SO_SNDTIMEO, $timeout);
if (@socket_connect($sock, $host, $port) === false) {
    fwrite(STDERR, "connect failed: " . socket_strerror(socket_last_error($sock)) . PHP_EOL);
    exit(1);
}

$data = '';
$reads = 0;
while (true) {
    $piece = @socket_read($sock, 4);
    if ($piece === false) {  // an error, not the end of the stream
        fwrite(STDERR, "read failed: " . socket_strerror(socket_last_error($sock)) . PHP_EOL);
        exit(1);
    }
    if ($piece === '') {  // the server closed its side: end of stream
        break;
    }
    $data .= $piece;  // bytes: a character cut between two reads is whole again here
    $reads++;
}
echo $data . PHP_EOL;
echo "read " . strlen($data) . " bytes in $reads reads, then end of stream" . PHP_EOL;

$written = @socket_write($sock, '接收消息成功');
if ($written === false) {
    echo "socket_write failed: " . socket_strerror(socket_last_error($sock)) . PHP_EOL;
    exit(1);
}
echo "socket_write returned $written: the kernel took the bytes, nothing more is known" . PHP_EOL;

usleep(100000);  // a RST, if one comes, takes a round trip: microseconds on loopback
// After the end of stream a read returns '' whatever happens next, so ask the socket for
// its pending error: the one the next call on it would get.
$pending = socket_get_option($sock, SOL_SOCKET, SO_ERROR);
socket_close($sock);
if ($pending !== 0) {
    echo "pending error: [$pending] " . socket_strerror($pending) . PHP_EOL;
    echo "nobody read the thank-you: the server had closed, and its kernel answered with RST" . PHP_EOL;
    exit(1);
}
echo "pending error: none - no RST came back" . PHP_EOL;
