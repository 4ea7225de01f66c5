<?php
// client_pieces.php: the seed's client.php reading loop, socket_read($sock, 4), with the
// first pieces shown byte by byte, so you can see where 4-byte reads cut the characters.
// It only reads (no thank-you is written back). Usage:
//   php client_pieces.php [HOST] [PORT] [SHOW]     SHOW: how many pieces to show (default 3)
$host = $argv[1] ?? '127.0.0.1';
$port = (int)($argv[2] ?? 65533);
$show = (int)($argv[3] ?? 3);
$timeout = ['sec' => 5, 'usec' => 0];

$sock = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
socket_set_option($sock, SOL_SOCKET, SO_RCVTIMEO, $timeout);  // a silent server cannot hang us
if (@socket_connect($sock, $host, $port) === false) {
    fwrite(STDERR, "connect failed: " . socket_strerror(socket_last_error($sock)) . PHP_EOL);
    exit(1);
}

$data = '';
$reads = 0;
while (true) {
    $piece = @socket_read($sock, 4);  // as the seed reads: at most 4 bytes
    if ($piece === false) {
        fwrite(STDERR, "read failed: " . socket_strerror(socket_last_error($sock)) . PHP_EOL);
        exit(1);
    }
    if ($piece === '') {  // end of stream
        break;
    }
    $reads++;
    if ($reads <= $show) {
        // bin2hex: PHP strings are bytes, so a piece may end inside a character
        echo "piece $reads: " . trim(chunk_split(bin2hex($piece), 2, ' ')) . PHP_EOL;
    }
    $data .= $piece;
}
socket_close($sock);
echo "... $reads pieces, " . strlen($data) . " bytes in all; joined: $data" . PHP_EOL;
