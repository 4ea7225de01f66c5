#!/usr/bin/python3
# 文件名:server.py
# The seed's server, typed in as the seed has it. Changes needed to run it here
# are marked "CHANGED"; its flaws are left in on purpose (the lessons fix them).
# 导入 socket、sys 模块
import socket
import sys
# 创建 socket 对象
serversocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 获取本地主机名
host = '127.0.0.1' #socket.gethostname()
port = int(sys.argv[1]) if len(sys.argv) > 1 else 9998  # CHANGED: port from the command line (default 9998, as in the seed; 0 lets the system pick a free one)
# 绑定端口号
serversocket.bind((host, port))
# 设置最大连接数,超过后排队
serversocket.listen(5)
print(f'服务器已启动,等待连接>>> {host}:{serversocket.getsockname()[1]}', flush=True)  # CHANGED: says the port it got (with port 0 the system picks one), and flush, so a parent process sees the line at once
# 建立客户端连接
clientsocket,addr = serversocket.accept()
print(f"连接地址: {str(addr)}")
while True:
    print(f'等待数据>>>>')
    data = clientsocket.recv(1024)
    #判断客户端链接状态
    if data:
        print(f"{str(data.decode('utf-8'))}")
    else:
        break
    msg='欢迎访问>>>>'+ str(data.decode('utf-8')) + "\r\n"
    clientsocket.send(msg.encode('utf-8'))
clientsocket.close()
# 启动命令
# python3 server.py
