<?php
//文件名 server.php
// The seed's PHP server, typed in as the seed has it. Changes needed to run it here
// are marked "CHANGED"; its flaws are left in on purpose (lesson 09 shows them).
set_time_limit(0);
$ip = '127.0.0.1';
$port = $argv[1] ?? '65533';  // CHANGED: port from the command line (default 65533, as in the seed)
// socket_create(): 初始化一个socket资源
// socket_strerror(): 根据错误号获取错误消息
// socket_last_error(): 返回上一次错误的错误号
if(($sock = socket_create(AF_INET, SOCK_STREAM, SOL_TCP)) === FALSE)
{
    echo '初始化socket失败: ' . socket_strerror(socket_last_error($sock));
    die;
}
socket_set_option($sock, SOL_SOCKET, SO_REUSEADDR, 1);  // CHANGED: this server closes first, so its port sits in TIME_WAIT; without this a re-run cannot bind it
// socket_bind(): 将socket资源绑定到指定地址
if(!socket_bind($sock, $ip, $port))
{
    echo '绑定端口失败: ' . socket_strerror(socket_last_error($sock));
    die;
}
// socket_listen(): 监听socket的连接请求
if(!socket_listen($sock))
{
    echo '监听端口: ' . socket_strerror(socket_last_error($sock));
    die;
}
socket_getsockname($sock, $bound_ip, $bound_port);  // CHANGED: a readiness line, so whoever started us knows we listen (and on which port, if 0 was asked)
echo "listening on $bound_ip:$bound_port" . PHP_EOL;  // CHANGED: (the seed prints nothing)
// 建立死循环,循环接收客户端的连接请求,持续向连接上的客户端推送消息
while(1)
{
    // socket_accept(): 接受来自客户端的连接, 返回一个新socket资源用于通讯. 如果接收到多个连接, 只会使用第一个连接. 没有连接时, 该函数保持堵塞状态, 直到有新的连接. 如果使用socket_set_blocking() or socket_set_nonblock()将socket设置为非堵塞状态, 没有连接时该函数返回FALSE
    ;
    if(($client = socket_accept($sock)) === FALSE)
    {
        echo '接收连接失败: ' . socket_strerror(socket_last_error($sock));
        die;
    }
    $data = '服务端消息: ' . date('Y-m-d H:i:s', time());
    socket_write($client, $data);
    socket_close($client);
}
socket_close($sock);
//启动命令
// php server.php
