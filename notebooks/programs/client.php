<?php
// 文件名 client.php
// The seed's PHP client, typed in as the seed has it. Changes needed to run it here
// are marked "CHANGED"; its flaws are left in on purpose (lesson 09 shows them, and
// client_fixed.php beside it checks what this one ignores).
// 服务端地址
$host = $argv[1] ?? '127.0.0.1';  // CHANGED: host and port from the command line
$port = (int)($argv[2] ?? 65533);  // CHANGED: (defaults as in the seed)
if(($sock = socket_create(AF_INET, SOCK_STREAM, SOL_TCP)) === FALSE)
{
    exit('初始化socket资源错误: ' . socket_strerror(socket_last_error($sock)));
}
if(socket_connect($sock, $host, $port) === FALSE)
{
    exit('连接socket失败: ' . socket_strerror(socket_last_error($sock)));
}
$data = '';
// 循环读取指定长度的服务器响应数据
while($response = socket_read($sock, 4))
{
    $data .= $response;
}
socket_write($sock, '接收消息成功');
echo $data . PHP_EOL;
socket_close($sock);
//启动命令
// php client.php
